package lbfgsb

import (
	"errors"
	"fmt"
	"math"
)

// Settings control the iteration. The zero value of a field selects its
// default.
type Settings struct {
	// HistorySize is the number of correction pairs kept (default 10).
	HistorySize int
	// GradientTolerance stops the iteration when the infinity norm of the
	// projected gradient is at most this (default 1e-5).
	GradientTolerance float64
	// FunctionTolerance stops the iteration when the relative reduction
	// (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) is at most this
	// (default 2.2e-9). A negative value disables the test.
	FunctionTolerance float64
	// MaxIterations and MaxEvaluations stop the iteration when reached;
	// zero means no limit. The solver never asks for more than
	// MaxEvaluations evaluations.
	MaxIterations  int
	MaxEvaluations int
	// MaxLineSearch is the number of evaluations one line search may use
	// (default 20).
	MaxLineSearch int
	// Preconditioner is the initial inverse Hessian, up to a scale; nil
	// means the identity.
	Preconditioner Preconditioner
}

func (s Settings) withDefaults() (Settings, error) {
	if s.HistorySize == 0 {
		s.HistorySize = 10
	}
	if s.GradientTolerance == 0 {
		s.GradientTolerance = 1e-5
	}
	if s.FunctionTolerance == 0 {
		s.FunctionTolerance = 2.2e-9
	}
	if s.MaxLineSearch == 0 {
		s.MaxLineSearch = 20
	}
	switch {
	case s.HistorySize < 1 || s.HistorySize > 1000:
		return s, fmt.Errorf("history size %d is outside [1, 1000]", s.HistorySize)
	case !(s.GradientTolerance >= 0) || math.IsInf(s.GradientTolerance, 0):
		return s, fmt.Errorf("gradient tolerance %v is not a finite number >= 0", s.GradientTolerance)
	case math.IsNaN(s.FunctionTolerance) || math.IsInf(s.FunctionTolerance, 0):
		return s, fmt.Errorf("function tolerance %v is not finite", s.FunctionTolerance)
	case s.MaxIterations < 0:
		return s, fmt.Errorf("max iterations %d is negative", s.MaxIterations)
	case s.MaxEvaluations < 0:
		return s, fmt.Errorf("max evaluations %d is negative", s.MaxEvaluations)
	case s.MaxLineSearch < 1:
		return s, fmt.Errorf("max line search %d is less than 1", s.MaxLineSearch)
	}
	return s, nil
}

// Task is what the caller must do next.
type Task int

const (
	// Evaluate asks for the objective and its gradient at X().
	Evaluate Task = iota
	// NewIteration reports an accepted iterate: X(), F() and Grad().
	NewIteration
	// Converged reports that a convergence test passed.
	Converged
	// Stopped reports that an iteration or evaluation limit was reached.
	Stopped
	// Failed reports that the iteration cannot go on (see Reason).
	Failed
)

// Done reports whether the iteration has ended.
func (t Task) Done() bool { return t >= Converged }

func (t Task) String() string {
	switch t {
	case Evaluate:
		return "evaluate"
	case NewIteration:
		return "new iteration"
	case Converged:
		return "converged"
	case Stopped:
		return "stopped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// Reason says why the iteration ended.
type Reason int

const (
	Running Reason = iota
	GradientTolerance
	FunctionTolerance
	IterationLimit
	EvaluationLimit
	LineSearchFailure
	NonFiniteStart
	NonFiniteValues
)

func (r Reason) String() string {
	switch r {
	case Running:
		return "running"
	case GradientTolerance:
		return "converged: projected gradient norm <= gradient tolerance"
	case FunctionTolerance:
		return "converged: relative reduction of f <= function tolerance"
	case IterationLimit:
		return "stopped: iteration limit reached"
	case EvaluationLimit:
		return "stopped: evaluation limit reached"
	case LineSearchFailure:
		return "abnormal: the line search found no acceptable step"
	case NonFiniteStart:
		return "abnormal: the objective or its gradient is not finite at the starting point"
	case NonFiniteValues:
		return "abnormal: the objective or its gradient stayed non-finite along the search direction"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

var errGradientLength = errors.New("gradient has the wrong length")
