package lbfgsb

import (
	"math"
	"strings"
	"testing"
)

type objective func(x, grad []float64) float64

// run drives s to the end and returns the final task.
func run(t *testing.T, s *Solver, fn objective) Task {
	t.Helper()
	grad := make([]float64, len(s.X()))
	var f float64
	task := Evaluate
	for k := 0; !task.Done(); k++ {
		if k > 100000 {
			t.Fatal("no end after 100000 tasks")
		}
		if task == Evaluate {
			f = fn(s.X(), grad)
		}
		task = s.Next(f, grad)
	}
	return task
}

func rosenbrock(x, g []float64) float64 {
	var f float64
	clear(g)
	for i := 0; i+1 < len(x); i++ {
		a, b := x[i+1]-x[i]*x[i], 1-x[i]
		f += 100*a*a + b*b
		g[i] += -400*a*x[i] - 2*b
		g[i+1] += 200 * a
	}
	return f
}

func TestRosenbrock(t *testing.T) {
	s, err := New([]float64{-1.2, 1}, nil, nil, Settings{GradientTolerance: 1e-8, FunctionTolerance: -1})
	if err != nil {
		t.Fatal(err)
	}
	if task := run(t, s, rosenbrock); task != Converged || s.Reason() != GradientTolerance {
		t.Fatalf("task %v, reason %v", task, s.Reason())
	}
	for i, v := range s.X() {
		if math.Abs(v-1) > 1e-7 {
			t.Errorf("x[%d] = %v, want 1", i, v)
		}
	}
	if s.Evaluations() > 60 {
		t.Errorf("%d evaluations", s.Evaluations())
	}
}

func TestRosenbrockActiveBounds(t *testing.T) {
	// With x1 <= 0.5 the minimiser is on the bound: x = (0.5, 0.25)... the
	// constrained problem min (1-a)² + 100(b-a²)² over a <= 0.5 has
	// b = a² and a = 0.5.
	s, err := New([]float64{-1.2, 1}, []float64{-2, -2}, []float64{0.5, 2}, Settings{GradientTolerance: 1e-9, FunctionTolerance: -1})
	if err != nil {
		t.Fatal(err)
	}
	if task := run(t, s, rosenbrock); task != Converged {
		t.Fatalf("task %v, reason %v", task, s.Reason())
	}
	x := s.X()
	if x[0] != 0.5 || math.Abs(x[1]-0.25) > 1e-8 {
		t.Errorf("x = %v, want [0.5 0.25]", x)
	}
}

// quadratic is ½ Σ h_i (x_i - a_i)².
func quadratic(h, a []float64) objective {
	return func(x, g []float64) float64 {
		var f float64
		for i := range x {
			r := x[i] - a[i]
			f += 0.5 * h[i] * r * r
			g[i] = h[i] * r
		}
		return f
	}
}

func TestBoundedQuadratic(t *testing.T) {
	const n = 40
	h, a, lo, hi, x0 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		h[i] = 1 + float64(i%7)
		a[i] = math.Sin(float64(3*i)) * 2
		lo[i], hi[i] = -1, 1
		if i%5 == 0 {
			lo[i] = math.Inf(-1)
		}
	}
	s, err := New(x0, lo, hi, Settings{GradientTolerance: 1e-10, FunctionTolerance: -1})
	if err != nil {
		t.Fatal(err)
	}
	if task := run(t, s, quadratic(h, a)); task != Converged {
		t.Fatalf("task %v, reason %v", task, s.Reason())
	}
	for i, v := range s.X() {
		want := math.Min(math.Max(a[i], lo[i]), hi[i])
		if math.Abs(v-want) > 1e-9 {
			t.Errorf("x[%d] = %v, want %v", i, v, want)
		}
	}
}

func TestIdentityPreconditionerIsExact(t *testing.T) {
	ones := filled(6, 1)
	x0 := []float64{-1.2, 1, -1, 0.5, 0.3, 2}
	lo := []float64{-2, -2, math.Inf(-1), -2, 0.5, -2}
	var results [2][]float64
	var evals [2]int
	for k, p := range []Preconditioner{nil, Diagonal(ones)} {
		s, err := New(x0, lo, nil, Settings{Preconditioner: p, GradientTolerance: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		run(t, s, rosenbrock)
		results[k], evals[k] = append([]float64(nil), s.X()...), s.Evaluations()
	}
	for i := range results[0] {
		if results[0][i] != results[1][i] {
			t.Fatalf("x differs: %v vs %v", results[0], results[1])
		}
	}
	if evals[0] != evals[1] {
		t.Errorf("evaluations %d vs %d", evals[0], evals[1])
	}
}

func TestDiagonalPreconditionerIsNewton(t *testing.T) {
	const n = 50
	h, a, p := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		h[i] = math.Pow(10, float64(i%6)) // condition number 1e5
		a[i] = float64(i%3) - 1
		p[i] = 1 / h[i]
	}
	s, err := New(make([]float64, n), nil, nil, Settings{Preconditioner: Diagonal(p), GradientTolerance: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	if task := run(t, s, quadratic(h, a)); task != Converged {
		t.Fatalf("task %v, reason %v", task, s.Reason())
	}
	if s.Iterations() > 2 {
		t.Errorf("%d iterations, want at most 2", s.Iterations())
	}
}

func TestBlockPreconditionerCoupled(t *testing.T) {
	// f = ½ Σ_i [u_i v_i] H_i [u_i v_i]ᵀ - b·x with 2×2 blocks H_i coupling
	// x[i] and x[h+i]; P = H⁻¹ block by block.
	const h = 20
	h11, h12, h22 := make([]float64, h), make([]float64, h), make([]float64, h)
	p11, p12, p22 := make([]float64, h), make([]float64, h), make([]float64, h)
	b := make([]float64, 2*h)
	for i := range h {
		h11[i], h12[i], h22[i] = 1+float64(i), 0.9*math.Sqrt(1+float64(i))*10, 100
		det := h11[i]*h22[i] - h12[i]*h12[i]
		p11[i], p12[i], p22[i] = h22[i]/det, -h12[i]/det, h11[i]/det
		b[i], b[h+i] = 1, -1
	}
	fn := func(x, g []float64) float64 {
		var f float64
		for i := range h {
			u, v := x[i], x[h+i]
			g[i] = h11[i]*u + h12[i]*v - b[i]
			g[h+i] = h12[i]*u + h22[i]*v - b[h+i]
			f += 0.5*(u*(h11[i]*u+h12[i]*v)+v*(h12[i]*u+h22[i]*v)) - b[i]*u - b[h+i]*v
		}
		return f
	}
	iters := func(p Preconditioner) (int, []float64) {
		s, err := New(make([]float64, 2*h), nil, nil, Settings{Preconditioner: p, GradientTolerance: 1e-6, FunctionTolerance: -1})
		if err != nil {
			t.Fatal(err)
		}
		if task := run(t, s, fn); task != Converged {
			t.Fatalf("task %v, reason %v", task, s.Reason())
		}
		return s.Iterations(), append([]float64(nil), s.X()...)
	}
	withP, x := iters(Block{p11, p12, p22})
	without, _ := iters(nil)
	if withP > 2 || withP >= without {
		t.Errorf("iterations: %d with the block preconditioner, %d without", withP, without)
	}
	for i := range h {
		det := h11[i]*h22[i] - h12[i]*h12[i]
		u := (h22[i]*b[i] - h12[i]*b[h+i]) / det
		v := (h11[i]*b[h+i] - h12[i]*b[i]) / det
		if math.Abs(x[i]-u) > 1e-7*math.Abs(u)+1e-9 || math.Abs(x[h+i]-v) > 1e-7*math.Abs(v)+1e-9 {
			t.Errorf("block %d: (%v, %v), want (%v, %v)", i, x[i], x[h+i], u, v)
		}
	}
}

func TestBlockPreconditionerWithBounds(t *testing.T) {
	// Bounds cut through the coupled blocks, so the free kernel mixes
	// 1×1 and 2×2 blocks; the answer must still be the constrained
	// minimiser, which the unpreconditioned solver also finds.
	const h = 8
	h11, h12, h22 := filled(h, 2), filled(h, 0.8), filled(h, 1)
	fn := func(x, g []float64) float64 {
		var f float64
		for i := range h {
			u, v := x[i]-1, x[h+i]+1
			g[i] = 4*u + 1.5*v
			g[h+i] = 1.5*u + 2*v
			f += 0.5*(u*(4*u+1.5*v)+v*(1.5*u+2*v)) + 0.1*float64(i)*x[i]
			g[i] += 0.1 * float64(i)
		}
		return f
	}
	lo, hi := filled(2*h, -0.5), filled(2*h, 0.5)
	var xs [2][]float64
	for k, p := range []Preconditioner{nil, Block{h11, h12, h22}} {
		s, err := New(filled(2*h, 0.1), lo, hi, Settings{Preconditioner: p, GradientTolerance: 1e-10, FunctionTolerance: -1})
		if err != nil {
			t.Fatal(err)
		}
		if task := run(t, s, fn); task != Converged {
			t.Fatalf("preconditioner %v: task %v, reason %v", p, task, s.Reason())
		}
		xs[k] = append([]float64(nil), s.X()...)
	}
	for i := range xs[0] {
		if math.Abs(xs[0][i]-xs[1][i]) > 1e-8 {
			t.Errorf("x[%d]: %v without, %v with the preconditioner", i, xs[0][i], xs[1][i])
		}
	}
}

func TestNonFiniteStart(t *testing.T) {
	s, _ := New([]float64{1, 2}, nil, nil, Settings{})
	task := run(t, s, func(x, g []float64) float64 { g[0], g[1] = 1, 1; return math.NaN() })
	if task != Failed || s.Reason() != NonFiniteStart {
		t.Fatalf("task %v, reason %v", task, s.Reason())
	}
	if s.Evaluations() != 1 {
		t.Errorf("%d evaluations", s.Evaluations())
	}
}

func TestNonFiniteRecovers(t *testing.T) {
	// Rosenbrock, undefined (NaN) for x0 > 1.5: the first long step lands
	// there, and the search must back off and still find (1, 1).
	fn := func(x, g []float64) float64 {
		if x[0] > 1.5 {
			g[0], g[1] = math.NaN(), math.NaN()
			return math.Inf(1)
		}
		return rosenbrock(x, g)
	}
	s, _ := New([]float64{-1.2, 1}, nil, nil, Settings{GradientTolerance: 1e-8})
	var nan int
	task := run(t, s, func(x, g []float64) float64 {
		f := fn(x, g)
		if math.IsInf(f, 1) {
			nan++
		}
		return f
	})
	if task != Converged || math.Abs(s.X()[0]-1) > 1e-6 {
		t.Fatalf("task %v, reason %v, x %v", task, s.Reason(), s.X())
	}
	if nan == 0 {
		t.Error("the test never produced a non-finite value")
	}
}

func TestNonFiniteNeverRecovers(t *testing.T) {
	x0 := []float64{3, 4}
	s, _ := New(x0, nil, nil, Settings{})
	task := run(t, s, func(x, g []float64) float64 {
		if x[0] != x0[0] || x[1] != x0[1] {
			return math.NaN()
		}
		g[0], g[1] = x[0], x[1]
		return 1
	})
	if task != Failed || s.Reason() != NonFiniteValues {
		t.Fatalf("task %v, reason %v", task, s.Reason())
	}
	if s.X()[0] != 3 || s.X()[1] != 4 || s.F() != 1 {
		t.Errorf("final point %v, f %v: want the start", s.X(), s.F())
	}
	if !strings.Contains(s.Reason().String(), "non-finite") {
		t.Errorf("message %q", s.Reason())
	}
}

func TestLimits(t *testing.T) {
	s, _ := New([]float64{-1.2, 1}, nil, nil, Settings{MaxIterations: 3})
	if task := run(t, s, rosenbrock); task != Stopped || s.Reason() != IterationLimit || s.Iterations() != 3 {
		t.Errorf("task %v, reason %v, %d iterations", task, s.Reason(), s.Iterations())
	}
	s, _ = New([]float64{-1.2, 1}, nil, nil, Settings{MaxEvaluations: 7})
	if task := run(t, s, rosenbrock); task != Stopped || s.Reason() != EvaluationLimit || s.Evaluations() != 7 {
		t.Errorf("task %v, reason %v, %d evaluations", task, s.Reason(), s.Evaluations())
	}
}

func TestConvergedAtStart(t *testing.T) {
	s, _ := New([]float64{1, 1}, nil, nil, Settings{})
	if task := run(t, s, rosenbrock); task != Converged || s.Iterations() != 0 || s.Evaluations() != 1 {
		t.Errorf("task %v, %d iterations, %d evaluations", task, s.Iterations(), s.Evaluations())
	}
}

func TestProjectsStart(t *testing.T) {
	s, _ := New([]float64{5, -5}, []float64{0, 0}, []float64{1, 1}, Settings{})
	if x := s.X(); x[0] != 1 || x[1] != 0 {
		t.Errorf("start %v, want [1 0]", x)
	}
}

func TestRejectsBadArguments(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name        string
		x0, lo, hi  []float64
		settings    Settings
		wantInError string
	}{
		{"empty", nil, nil, nil, Settings{}, "empty"},
		{"nan x0", []float64{math.NaN()}, nil, nil, Settings{}, "x0[0]"},
		{"inf x0", []float64{inf}, nil, nil, Settings{}, "x0[0]"},
		{"lower > upper", []float64{0, 0}, []float64{0, 1}, []float64{1, 0}, Settings{}, "lower[1]"},
		{"lower +inf", []float64{0}, []float64{inf}, nil, Settings{}, "lower[0]"},
		{"bound length", []float64{0, 0}, []float64{0}, nil, Settings{}, "lengths"},
		{"history", []float64{0}, nil, nil, Settings{HistorySize: -1}, "history"},
		{"gtol", []float64{0}, nil, nil, Settings{GradientTolerance: math.NaN()}, "gradient tolerance"},
		{"max iterations", []float64{0}, nil, nil, Settings{MaxIterations: -2}, "max iterations"},
		{"diagonal length", []float64{0, 0}, nil, nil, Settings{Preconditioner: Diagonal{1}}, "entries"},
		{"diagonal sign", []float64{0, 0}, nil, nil, Settings{Preconditioner: Diagonal{1, -1}}, "entry 1"},
		{"diagonal nan", []float64{0, 0}, nil, nil, Settings{Preconditioner: Diagonal{math.NaN(), 1}}, "entry 0"},
		{"block odd", []float64{0, 0, 0}, nil, nil, Settings{Preconditioner: Block{}}, "even"},
		{"block indefinite", []float64{0, 0}, nil, nil, Settings{Preconditioner: Block{[]float64{1}, []float64{2}, []float64{1}}}, "positive definite"},
		{"block length", []float64{0, 0}, nil, nil, Settings{Preconditioner: Block{[]float64{1}, nil, []float64{1}}}, "H12"},
	}
	for _, c := range cases {
		_, err := New(c.x0, c.lo, c.hi, c.settings)
		if err == nil || !strings.Contains(err.Error(), c.wantInError) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.wantInError)
		}
	}
}
