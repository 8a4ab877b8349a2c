package lbfgsb

import "math"

// lineSearch is the Moré–Thuente search for a step satisfying the strong
// Wolfe conditions (dcsrch of MINPACK-2), driven by reverse communication.
type lineSearch struct {
	ftol, gtol, xtol float64
	stpmin, stpmax   float64

	brackt              bool
	stage               int
	finit, ginit, gtest float64
	width, width1       float64
	stx, fx, gx         float64
	sty, fy, gy         float64
	stmin, stmax        float64
}

type searchState int

const (
	searchEvaluate  searchState = iota // evaluate at the returned step
	searchConverged                    // the step satisfies the Wolfe conditions
	searchWarning                      // no further progress possible; accept the step
	searchError                        // invalid start
)

// start begins a search from f and the directional derivative g at step 0
// with the first trial step stp.
func (ls *lineSearch) start(f, g, stp float64) searchState {
	if stp < ls.stpmin || stp > ls.stpmax || g >= 0 {
		return searchError
	}
	ls.brackt = false
	ls.stage = 1
	ls.finit, ls.ginit = f, g
	ls.gtest = ls.ftol * g
	ls.width = ls.stpmax - ls.stpmin
	ls.width1 = ls.width / 0.5
	ls.stx, ls.fx, ls.gx = 0, f, g
	ls.sty, ls.fy, ls.gy = 0, f, g
	ls.stmin = 0
	ls.stmax = stp + 4*stp
	return searchEvaluate
}

// iterate takes f and the directional derivative g at stp and returns the
// next step to evaluate, or the outcome.
func (ls *lineSearch) iterate(f, g, stp float64) (searchState, float64) {
	const xtrapl, xtrapu = 1.1, 4.0
	ftest := ls.finit + stp*ls.gtest
	if ls.stage == 1 && f <= ftest && g >= 0 {
		ls.stage = 2
	}
	state := searchEvaluate
	if ls.brackt && (stp <= ls.stmin || stp >= ls.stmax) {
		state = searchWarning // rounding errors prevent progress
	}
	if ls.brackt && ls.stmax-ls.stmin <= ls.xtol*ls.stmax {
		state = searchWarning
	}
	if stp == ls.stpmax && f <= ftest && g <= ls.gtest {
		state = searchWarning
	}
	if stp == ls.stpmin && (f > ftest || g >= ls.gtest) {
		state = searchWarning
	}
	if f <= ftest && math.Abs(g) <= ls.gtol*(-ls.ginit) {
		state = searchConverged
	}
	if state != searchEvaluate {
		return state, stp
	}
	if ls.stage == 1 && f <= ls.fx && f > ftest {
		// A modified function predicts the step while the decrease is
		// not yet sufficient.
		fm := f - stp*ls.gtest
		fxm := ls.fx - ls.stx*ls.gtest
		fym := ls.fy - ls.sty*ls.gtest
		gm := g - ls.gtest
		gxm := ls.gx - ls.gtest
		gym := ls.gy - ls.gtest
		stp = ls.step(&fxm, &gxm, &fym, &gym, stp, fm, gm)
		ls.fx = fxm + ls.stx*ls.gtest
		ls.fy = fym + ls.sty*ls.gtest
		ls.gx = gxm + ls.gtest
		ls.gy = gym + ls.gtest
	} else {
		stp = ls.step(&ls.fx, &ls.gx, &ls.fy, &ls.gy, stp, f, g)
	}
	if ls.brackt {
		if math.Abs(ls.sty-ls.stx) >= 0.66*ls.width1 {
			stp = ls.stx + 0.5*(ls.sty-ls.stx)
		}
		ls.width1 = ls.width
		ls.width = math.Abs(ls.sty - ls.stx)
		ls.stmin = math.Min(ls.stx, ls.sty)
		ls.stmax = math.Max(ls.stx, ls.sty)
	} else {
		ls.stmin = stp + xtrapl*(stp-ls.stx)
		ls.stmax = stp + xtrapu*(stp-ls.stx)
	}
	stp = math.Max(stp, ls.stpmin)
	stp = math.Min(stp, ls.stpmax)
	if ls.brackt && (stp <= ls.stmin || stp >= ls.stmax) || ls.brackt && ls.stmax-ls.stmin <= ls.xtol*ls.stmax {
		stp = ls.stx
	}
	return searchEvaluate, stp
}

// step is dcstep: it computes a safeguarded step from the interval
// [stx, sty] and the trial (stp, fp, dp), and updates the interval.
func (ls *lineSearch) step(fx, dx, fy, dy *float64, stp, fp, dp float64) float64 {
	stx, sty := ls.stx, ls.sty
	stpmin, stpmax := ls.stmin, ls.stmax
	sgnd := dp * (*dx / math.Abs(*dx))
	var stpf float64
	switch {
	case fp > *fx:
		// Higher function value: the minimum is bracketed.
		theta := 3*(*fx-fp)/(stp-stx) + *dx + dp
		s := math.Max(math.Abs(theta), math.Max(math.Abs(*dx), math.Abs(dp)))
		gamma := s * math.Sqrt((theta/s)*(theta/s)-(*dx/s)*(dp/s))
		if stp < stx {
			gamma = -gamma
		}
		p := (gamma - *dx) + theta
		q := ((gamma - *dx) + gamma) + dp
		r := p / q
		stpc := stx + r*(stp-stx)
		stpq := stx + ((*dx/((*fx-fp)/(stp-stx)+*dx))/2)*(stp-stx)
		if math.Abs(stpc-stx) < math.Abs(stpq-stx) {
			stpf = stpc
		} else {
			stpf = stpc + (stpq-stpc)/2
		}
		ls.brackt = true
	case sgnd < 0:
		// Lower value, derivatives of opposite sign: bracketed.
		theta := 3*(*fx-fp)/(stp-stx) + *dx + dp
		s := math.Max(math.Abs(theta), math.Max(math.Abs(*dx), math.Abs(dp)))
		gamma := s * math.Sqrt((theta/s)*(theta/s)-(*dx/s)*(dp/s))
		if stp > stx {
			gamma = -gamma
		}
		p := (gamma - dp) + theta
		q := ((gamma - dp) + gamma) + *dx
		r := p / q
		stpc := stp + r*(stx-stp)
		stpq := stp + (dp/(dp-*dx))*(stx-stp)
		if math.Abs(stpc-stp) > math.Abs(stpq-stp) {
			stpf = stpc
		} else {
			stpf = stpq
		}
		ls.brackt = true
	case math.Abs(dp) < math.Abs(*dx):
		// Lower value, same sign, derivative decreasing in magnitude.
		theta := 3*(*fx-fp)/(stp-stx) + *dx + dp
		s := math.Max(math.Abs(theta), math.Max(math.Abs(*dx), math.Abs(dp)))
		gamma := s * math.Sqrt(math.Max(0, (theta/s)*(theta/s)-(*dx/s)*(dp/s)))
		if stp > stx {
			gamma = -gamma
		}
		p := (gamma - dp) + theta
		q := (gamma + (*dx - dp)) + gamma
		r := p / q
		var stpc float64
		switch {
		case r < 0 && gamma != 0:
			stpc = stp + r*(stx-stp)
		case stp > stx:
			stpc = stpmax
		default:
			stpc = stpmin
		}
		stpq := stp + (dp/(dp-*dx))*(stx-stp)
		if ls.brackt {
			if math.Abs(stpc-stp) < math.Abs(stpq-stp) {
				stpf = stpc
			} else {
				stpf = stpq
			}
			if stp > stx {
				stpf = math.Min(stp+0.66*(sty-stp), stpf)
			} else {
				stpf = math.Max(stp+0.66*(sty-stp), stpf)
			}
		} else {
			if math.Abs(stpc-stp) > math.Abs(stpq-stp) {
				stpf = stpc
			} else {
				stpf = stpq
			}
			stpf = math.Min(stpmax, stpf)
			stpf = math.Max(stpmin, stpf)
		}
	default:
		// Lower value, same sign, derivative not decreasing.
		switch {
		case ls.brackt:
			theta := 3*(fp-*fy)/(sty-stp) + *dy + dp
			s := math.Max(math.Abs(theta), math.Max(math.Abs(*dy), math.Abs(dp)))
			gamma := s * math.Sqrt((theta/s)*(theta/s)-(*dy/s)*(dp/s))
			if stp > sty {
				gamma = -gamma
			}
			p := (gamma - dp) + theta
			q := ((gamma - dp) + gamma) + *dy
			r := p / q
			stpf = stp + r*(sty-stp)
		case stp > stx:
			stpf = stpmax
		default:
			stpf = stpmin
		}
	}
	// Update the interval that contains a minimiser.
	if fp > *fx {
		ls.sty, *fy, *dy = stp, fp, dp
	} else {
		if sgnd < 0 {
			ls.sty, *fy, *dy = ls.stx, *fx, *dx
		}
		ls.stx, *fx, *dx = stp, fp, dp
	}
	return stpf
}
