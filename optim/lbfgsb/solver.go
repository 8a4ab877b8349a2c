package lbfgsb

import (
	"errors"
	"fmt"
	"math"
)

type phase int

const (
	awaitStart  phase = iota // waiting for f and g at x0
	awaitTrial               // waiting for f and g at a line-search trial
	awaitResume              // NewIteration was reported
	finished
)

// Solver is the state of one minimisation. It is not safe for concurrent
// use.
type Solver struct {
	n            int
	lower, upper []float64
	settings     Settings
	constrained  bool // some variable has a finite bound
	boxed        bool // every variable has both bounds

	x, g   []float64 // accepted iterate
	f      float64
	pgNorm float64

	xt, gt []float64 // line-search trial point; previous gradient

	mem   *memory
	where []int8
	free  []bool
	nfree int

	allFree           bool
	nextFree          []bool
	changed           []int
	xcp, xsub, d      []float64
	du, r, z, pz      []float64
	c, p, v, wbp      []float64
	breakT            []float64
	breakI            []int
	ls                lineSearch
	stp, dnorm, gd0   float64
	lsEvals           int
	fOld              float64
	gdNew             float64 // directional derivative at the accepted step
	nonFinite         bool    // the current line search met non-finite values
	iterations, evals int
	phase             phase
	reason            Reason
}

// New returns a solver started at x0, which is projected onto the box
// [lower, upper]. A nil lower or upper means no bounds on that side; an
// entry of -Inf or +Inf leaves that variable unbounded on that side.
func New(x0, lower, upper []float64, settings Settings) (*Solver, error) {
	n := len(x0)
	if n == 0 {
		return nil, errors.New("x0 is empty")
	}
	settings, err := settings.withDefaults()
	if err != nil {
		return nil, err
	}
	if lower == nil {
		lower = filled(n, math.Inf(-1))
	}
	if upper == nil {
		upper = filled(n, math.Inf(1))
	}
	if len(lower) != n || len(upper) != n {
		return nil, fmt.Errorf("bounds have lengths %d and %d, want %d", len(lower), len(upper), n)
	}
	met := identity(n)
	if settings.Preconditioner != nil {
		if met, err = settings.Preconditioner.metric(n); err != nil {
			return nil, err
		}
	}
	s := &Solver{n: n, settings: settings,
		lower: append([]float64(nil), lower...), upper: append([]float64(nil), upper...),
		boxed: true, where: make([]int8, n), free: make([]bool, n), nextFree: make([]bool, n)}
	for i := range n {
		lo, hi := s.lower[i], s.upper[i]
		switch {
		case math.IsNaN(x0[i]) || math.IsInf(x0[i], 0):
			return nil, fmt.Errorf("x0[%d] = %v is not finite", i, x0[i])
		case math.IsNaN(lo) || math.IsInf(lo, 1):
			return nil, fmt.Errorf("lower[%d] = %v is not a number below +Inf", i, lo)
		case math.IsNaN(hi) || math.IsInf(hi, -1):
			return nil, fmt.Errorf("upper[%d] = %v is not a number above -Inf", i, hi)
		case lo > hi:
			return nil, fmt.Errorf("lower[%d] = %v exceeds upper[%d] = %v", i, lo, i, hi)
		}
		hasL, hasU := !math.IsInf(lo, -1), !math.IsInf(hi, 1)
		s.constrained = s.constrained || hasL || hasU
		s.boxed = s.boxed && hasL && hasU
		switch {
		case !hasL && !hasU:
			s.where[i] = whereUnbounded
		case hasL && hasU && hi-lo <= 0:
			s.where[i] = whereFixed
		}
		s.free[i] = true
	}
	m := settings.HistorySize
	vec := func() []float64 { return make([]float64, n) }
	s.x = vec()
	for i, v := range x0 {
		s.x[i] = math.Min(math.Max(v, s.lower[i]), s.upper[i])
	}
	s.g, s.xt, s.gt = vec(), append([]float64(nil), s.x...), vec()
	s.xcp, s.xsub, s.d = vec(), vec(), vec()
	s.du, s.r, s.z, s.pz = vec(), vec(), vec(), vec()
	s.c, s.p, s.v, s.wbp = make([]float64, 2*m), make([]float64, 2*m), make([]float64, 2*m), make([]float64, 2*m)
	s.mem = newMemory(n, m, met)
	met.setFree(s.free)
	s.allFree = true
	s.nfree = n
	s.ls = lineSearch{ftol: 1e-3, gtol: 0.9, xtol: 0.1}
	return s, nil
}

func filled(n int, v float64) []float64 {
	a := make([]float64, n)
	for i := range a {
		a[i] = v
	}
	return a
}

// X returns the point to evaluate after Evaluate, and the accepted iterate
// otherwise. The caller must not modify it.
func (s *Solver) X() []float64 {
	if s.phase == awaitStart || s.phase == awaitTrial {
		return s.xt
	}
	return s.x
}

// F returns the objective at the accepted iterate.
func (s *Solver) F() float64 { return s.f }

// Grad returns the gradient at the accepted iterate. The caller must not
// modify it.
func (s *Solver) Grad() []float64 { return s.g }

// ProjectedGradientNorm returns the infinity norm of the projected gradient
// at the accepted iterate.
func (s *Solver) ProjectedGradientNorm() float64 { return s.pgNorm }

// Iterations returns the number of accepted iterations.
func (s *Solver) Iterations() int { return s.iterations }

// Evaluations returns the number of objective evaluations supplied.
func (s *Solver) Evaluations() int { return s.evals }

// Reason says why the iteration ended, or Running.
func (s *Solver) Reason() Reason { return s.reason }

// Next takes the objective f and its gradient at X() when the previous
// task was Evaluate (they are ignored otherwise, and may be zero and nil)
// and returns the next task. The first call must supply the values at the
// projected x0.
func (s *Solver) Next(f float64, grad []float64) Task {
	switch s.phase {
	case awaitStart:
		if len(grad) != s.n {
			panic(errGradientLength)
		}
		s.evals++
		copy(s.g, grad)
		s.f = f
		if !finite(f) || !allFinite(grad) {
			return s.finish(Failed, NonFiniteStart)
		}
		s.pgNorm = s.projectedGradientNorm()
		if s.pgNorm <= s.settings.GradientTolerance {
			return s.finish(Converged, GradientTolerance)
		}
		return s.beginIteration()
	case awaitTrial:
		if len(grad) != s.n {
			panic(errGradientLength)
		}
		s.evals++
		return s.searchStep(f, grad)
	case awaitResume:
		return s.resume()
	}
	if s.reason.converged() {
		return Converged
	}
	if s.reason == IterationLimit || s.reason == EvaluationLimit {
		return Stopped
	}
	return Failed
}

func (r Reason) converged() bool { return r == GradientTolerance || r == FunctionTolerance }

func (s *Solver) finish(t Task, r Reason) Task {
	s.phase, s.reason = finished, r
	return t
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if !finite(x) {
			return false
		}
	}
	return true
}

func (s *Solver) projectedGradientNorm() float64 {
	var norm float64
	for i, gi := range s.g {
		if gi < 0 {
			if !math.IsInf(s.upper[i], 1) {
				gi = math.Max(s.x[i]-s.upper[i], gi)
			}
		} else if !math.IsInf(s.lower[i], -1) {
			gi = math.Min(s.x[i]-s.lower[i], gi)
		}
		norm = math.Max(norm, math.Abs(gi))
	}
	return norm
}

// beginIteration computes a search direction and asks for the first trial
// of its line search.
func (s *Solver) beginIteration() Task {
	for {
		err := s.direction()
		if err == nil {
			t, ok := s.startSearch()
			if ok {
				return t
			}
		}
		// A singular middle matrix or an ascent direction: start again
		// from steepest descent, or give up if that is where we are.
		if s.mem.col == 0 {
			if s.nonFinite {
				return s.finish(Failed, NonFiniteValues)
			}
			return s.finish(Failed, LineSearchFailure)
		}
		s.mem.reset()
	}
}

// direction sets s.xsub, the minimiser of the model found from the Cauchy
// point, and d = xsub - x.
func (s *Solver) direction() error {
	unconstrained := !s.constrained && s.mem.col > 0
	if unconstrained {
		copy(s.xcp, s.x)
		clear(s.c)
	} else {
		s.cauchy()
	}
	s.setFree(unconstrained)
	if err := s.subspace(unconstrained); err != nil {
		return err
	}
	for i := range s.d {
		s.d[i] = s.xsub[i] - s.x[i]
	}
	return nil
}

// startSearch sets up the line search along d; ok is false when d is not
// a descent direction or the search cannot start.
func (s *Solver) startSearch() (Task, bool) {
	d, x := s.d, s.x
	s.dnorm = math.Sqrt(dot(d, d))
	stpmx := 1e10
	if s.constrained {
		if s.iterations == 0 {
			stpmx = 1
		} else {
			for i, di := range d {
				switch {
				case di < 0 && !math.IsInf(s.lower[i], -1):
					if gap := s.lower[i] - x[i]; gap >= 0 {
						stpmx = 0
					} else if di*stpmx < gap {
						stpmx = gap / di
					}
				case di > 0 && !math.IsInf(s.upper[i], 1):
					if gap := s.upper[i] - x[i]; gap <= 0 {
						stpmx = 0
					} else if di*stpmx > gap {
						stpmx = gap / di
					}
				}
			}
		}
	}
	s.stp = 1
	if s.iterations == 0 && !s.boxed {
		s.stp = math.Min(1/s.dnorm, stpmx)
	}
	s.gd0 = dot(s.g, d)
	s.fOld = s.f
	s.lsEvals = 0
	s.nonFinite = false
	s.ls.stpmin, s.ls.stpmax = 0, stpmx
	if s.gd0 >= 0 || s.ls.start(s.f, s.gd0, s.stp) != searchEvaluate {
		return 0, false
	}
	return s.requestTrial(), true
}

// requestTrial sets the trial point for step s.stp.
func (s *Solver) requestTrial() Task {
	if max := s.settings.MaxEvaluations; max > 0 && s.evals >= max {
		return s.finish(Stopped, EvaluationLimit)
	}
	if s.lsEvals >= s.settings.MaxLineSearch {
		return s.searchFailed()
	}
	s.lsEvals++
	if s.stp == 1 {
		copy(s.xt, s.xsub)
	} else {
		for i := range s.xt {
			s.xt[i] = s.x[i] + s.stp*s.d[i]
		}
	}
	s.phase = awaitTrial
	return Evaluate
}

func (s *Solver) searchFailed() Task {
	s.phase = awaitResume // the accepted iterate stands
	if s.mem.col == 0 {
		if s.nonFinite {
			return s.finish(Failed, NonFiniteValues)
		}
		return s.finish(Failed, LineSearchFailure)
	}
	s.mem.reset()
	return s.beginIteration()
}

// searchStep takes the values at the trial step.
func (s *Solver) searchStep(f float64, grad []float64) Task {
	if !finite(f) || !allFinite(grad) {
		// Shrink the step towards the best one so far and search again
		// below the step that failed.
		s.nonFinite = true
		bad := s.stp
		s.stp = s.ls.stx + 0.5*(bad-s.ls.stx)
		s.ls.stpmax = s.stp
		if s.stp <= 0 || s.ls.start(s.fOld, s.gd0, s.stp) != searchEvaluate {
			return s.searchFailed()
		}
		return s.requestTrial()
	}
	gd := dot(grad, s.d)
	state, stp := s.ls.iterate(f, gd, s.stp)
	switch state {
	case searchEvaluate:
		s.stp = stp
		return s.requestTrial()
	case searchError:
		return s.searchFailed()
	}
	// Accept: s = x_new - x_old is stp·d, y = g_new - g_old.
	copy(s.gt, grad)
	s.x, s.xt = s.xt, s.x
	s.g, s.gt = s.gt, s.g // gt now holds the previous gradient
	s.f = f
	s.iterations++
	s.pgNorm = s.projectedGradientNorm()
	s.phase = awaitResume
	s.gdNew = gd
	return NewIteration
}

// resume runs the convergence tests on the accepted iterate, updates the
// memory and starts the next iteration.
func (s *Solver) resume() Task {
	if s.pgNorm <= s.settings.GradientTolerance {
		return s.finish(Converged, GradientTolerance)
	}
	scale := math.Max(math.Max(math.Abs(s.fOld), math.Abs(s.f)), 1)
	if s.fOld-s.f <= s.settings.FunctionTolerance*scale {
		return s.finish(Converged, FunctionTolerance)
	}
	if max := s.settings.MaxIterations; max > 0 && s.iterations >= max {
		return s.finish(Stopped, IterationLimit)
	}
	s.updateMemory()
	return s.beginIteration()
}

// updateMemory adds the pair of the last step, unless sᵀy is not
// sufficiently positive.
func (s *Solver) updateMemory() {
	y := s.gt // the previous gradient; becomes y = g - g_old in place
	for i := range y {
		y[i] = s.g[i] - y[i]
	}
	step := s.z
	if s.stp == 1 {
		copy(step, s.d)
	} else {
		for i := range step {
			step[i] = s.stp * s.d[i]
		}
	}
	dr := (s.gdNew - s.gd0) * s.stp
	ddum := -s.gd0 * s.stp
	if dr <= epsilon*ddum {
		return
	}
	if err := s.mem.add(step, y, dr, s.free, s.allFree); err != nil {
		s.mem.reset()
	}
}
