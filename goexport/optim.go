package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/torchwave/torchwave/optim/lbfgsb"
)

// Solvers live in a Go map under integer handles: C never holds a Go
// pointer, and a stale or forged handle is an error, not a crash.
var solvers = struct {
	sync.Mutex
	next int64
	m    map[int64]*solverEntry
}{m: map[int64]*solverEntry{}}

type solverEntry struct {
	sync.Mutex
	s    *lbfgsb.Solver
	n    int
	last lbfgsb.Task
}

func lookupSolver(h int64) (*solverEntry, error) {
	solvers.Lock()
	defer solvers.Unlock()
	e, ok := solvers.m[h]
	if !ok {
		return nil, fmt.Errorf("no optimiser with handle %d (freed already?)", h)
	}
	return e, nil
}

// lbfgsbArgs is tw_lbfgsb_new's arguments in Go types.
type lbfgsbArgs struct {
	n                            int64
	x0, lower, upper             unsafe.Pointer
	history                      int64
	gtol, ftol                   float64
	maxIter, maxEval, maxLS      int64
	precondKind                  int64
	precond1, precond2, precond3 unsafe.Pointer
}

const (
	precondNone     = 0
	precondDiagonal = 1
	precondBlock    = 2
)

func newSolver(a lbfgsbArgs) (int64, error) {
	const limit = 1 << 40
	if a.n < 1 || a.n > limit {
		return 0, fmt.Errorf("n = %d is out of range", a.n)
	}
	if a.x0 == nil {
		return 0, errors.New("x0 is a null pointer")
	}
	for _, v := range []struct {
		name string
		v    int64
	}{{"history_size", a.history}, {"max_iter", a.maxIter}, {"max_evaluations", a.maxEval}, {"max_line_search", a.maxLS}} {
		if v.v < 0 || v.v > math.MaxInt32 {
			return 0, fmt.Errorf("%s = %d is out of range", v.name, v.v)
		}
	}
	n := int(a.n)
	settings := lbfgsb.Settings{
		HistorySize: int(a.history), GradientTolerance: a.gtol, FunctionTolerance: a.ftol,
		MaxIterations: int(a.maxIter), MaxEvaluations: int(a.maxEval), MaxLineSearch: int(a.maxLS),
	}
	switch a.precondKind {
	case precondNone:
	case precondDiagonal:
		if a.precond1 == nil {
			return 0, errors.New("diagonal preconditioner is a null pointer")
		}
		settings.Preconditioner = lbfgsb.Diagonal(slice[float64](a.precond1, n))
	case precondBlock:
		if n%2 != 0 {
			return 0, fmt.Errorf("block preconditioner needs an even number of variables, got %d", n)
		}
		if a.precond1 == nil || a.precond2 == nil || a.precond3 == nil {
			return 0, errors.New("block preconditioner has a null pointer")
		}
		h := n / 2
		settings.Preconditioner = lbfgsb.Block{
			H11: slice[float64](a.precond1, h), H12: slice[float64](a.precond2, h), H22: slice[float64](a.precond3, h)}
	default:
		return 0, fmt.Errorf("%w: preconditioner kind %d", errUnsupported, a.precondKind)
	}
	// New copies everything it keeps, so the caller's buffers may go.
	s, err := lbfgsb.New(slice[float64](a.x0, n), slice[float64](a.lower, n), slice[float64](a.upper, n), settings)
	if err != nil {
		return 0, err
	}
	solvers.Lock()
	defer solvers.Unlock()
	solvers.next++
	solvers.m[solvers.next] = &solverEntry{s: s, n: n, last: lbfgsb.Evaluate}
	return solvers.next, nil
}

// nextTask passes f and grad (read only when the last task was Evaluate)
// and writes the point of the new task into x.
func nextTask(h int64, f float64, grad, x unsafe.Pointer) (lbfgsb.Task, error) {
	e, err := lookupSolver(h)
	if err != nil {
		return 0, err
	}
	e.Lock()
	defer e.Unlock()
	if x == nil {
		return 0, errors.New("x is a null pointer")
	}
	var g []float64
	if e.last == lbfgsb.Evaluate {
		if grad == nil {
			return 0, errors.New("grad is a null pointer but the optimiser asked for an evaluation")
		}
		g = slice[float64](grad, e.n)
	}
	e.last = e.s.Next(f, g)
	copy(slice[float64](x, e.n), e.s.X())
	return e.last, nil
}

// solverState writes the accepted iterate: x, grad (either may be nil),
// and info = [f, projected gradient norm, iterations, evaluations, reason].
func solverState(h int64, x, grad, info unsafe.Pointer) (string, error) {
	e, err := lookupSolver(h)
	if err != nil {
		return "", err
	}
	e.Lock()
	defer e.Unlock()
	if info == nil {
		return "", errors.New("info is a null pointer")
	}
	if e.last == lbfgsb.Evaluate {
		// X() is a trial point; report the accepted one.
		x = nil
	}
	if x != nil {
		copy(slice[float64](x, e.n), e.s.X())
	}
	if grad != nil {
		copy(slice[float64](grad, e.n), e.s.Grad())
	}
	s := e.s
	out := slice[float64](info, 5)
	out[0], out[1] = s.F(), s.ProjectedGradientNorm()
	out[2], out[3], out[4] = float64(s.Iterations()), float64(s.Evaluations()), float64(s.Reason())
	return s.Reason().String(), nil
}

func freeSolver(h int64) error {
	solvers.Lock()
	defer solvers.Unlock()
	if _, ok := solvers.m[h]; !ok {
		return fmt.Errorf("no optimiser with handle %d (freed already?)", h)
	}
	delete(solvers.m, h)
	return nil
}

//export tw_lbfgsb_new
func tw_lbfgsb_new(n C.int64_t, x0, lower, upper *C.double, history C.int64_t, gtol, ftol C.double,
	maxIter, maxEval, maxLS, precondKind C.int64_t, p1, p2, p3 *C.double,
	handle *C.int64_t, errbuf *C.char, errlen C.int) C.int {
	return guard(errbuf, errlen, func() error {
		if handle == nil {
			return errors.New("handle is a null pointer")
		}
		h, err := newSolver(lbfgsbArgs{
			n: int64(n), x0: unsafe.Pointer(x0), lower: unsafe.Pointer(lower), upper: unsafe.Pointer(upper),
			history: int64(history), gtol: float64(gtol), ftol: float64(ftol),
			maxIter: int64(maxIter), maxEval: int64(maxEval), maxLS: int64(maxLS), precondKind: int64(precondKind),
			precond1: unsafe.Pointer(p1), precond2: unsafe.Pointer(p2), precond3: unsafe.Pointer(p3),
		})
		*handle = C.int64_t(h)
		return err
	})
}

//export tw_lbfgsb_next
func tw_lbfgsb_next(handle C.int64_t, f C.double, grad, x *C.double, task *C.int64_t, errbuf *C.char, errlen C.int) C.int {
	return guard(errbuf, errlen, func() error {
		if task == nil {
			return errors.New("task is a null pointer")
		}
		t, err := nextTask(int64(handle), float64(f), unsafe.Pointer(grad), unsafe.Pointer(x))
		*task = C.int64_t(t)
		return err
	})
}

//export tw_lbfgsb_state
func tw_lbfgsb_state(handle C.int64_t, x, grad, info *C.double, msg *C.char, msglen C.int, errbuf *C.char, errlen C.int) C.int {
	return guard(errbuf, errlen, func() error {
		m, err := solverState(int64(handle), unsafe.Pointer(x), unsafe.Pointer(grad), unsafe.Pointer(info))
		writeMessage(msg, msglen, m)
		return err
	})
}

//export tw_lbfgsb_free
func tw_lbfgsb_free(handle C.int64_t, errbuf *C.char, errlen C.int) C.int {
	return guard(errbuf, errlen, func() error { return freeSolver(int64(handle)) })
}
