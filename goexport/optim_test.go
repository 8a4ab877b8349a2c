package main

import (
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/torchwave/torchwave/optim/lbfgsb"
)

func ptr(v []float64) unsafe.Pointer {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Pointer(&v[0])
}

func TestSolverHandleRoundTrip(t *testing.T) {
	x0 := []float64{-1.2, 1}
	lo := []float64{-2, -2}
	hi := []float64{0.5, 2}
	h, err := newSolver(lbfgsbArgs{n: 2, x0: ptr(x0), lower: ptr(lo), upper: ptr(hi), gtol: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	x, g := make([]float64, 2), make([]float64, 2)
	copy(x, x0)
	var f float64
	task := lbfgsb.Evaluate
	for k := 0; !task.Done() && k < 1000; k++ {
		if task == lbfgsb.Evaluate {
			a, b := x[1]-x[0]*x[0], 1-x[0]
			f = 100*a*a + b*b
			g[0], g[1] = -400*a*x[0]-2*b, 200*a
		}
		if task, err = nextTask(h, f, ptr(g), ptr(x)); err != nil {
			t.Fatal(err)
		}
	}
	info := make([]float64, 5)
	msg, err := solverState(h, ptr(x), ptr(g), ptr(info))
	if err != nil {
		t.Fatal(err)
	}
	if task != lbfgsb.Converged || x[0] != 0.5 || math.Abs(x[1]-0.25) > 1e-8 || !strings.HasPrefix(msg, "converged") {
		t.Errorf("task %v, x %v, message %q", task, x, msg)
	}
	if info[2] < 1 || info[3] < info[2] {
		t.Errorf("info %v", info)
	}
	if err := freeSolver(h); err != nil {
		t.Fatal(err)
	}
	if err := freeSolver(h); err == nil {
		t.Error("second free succeeded")
	}
	if _, err := nextTask(h, 0, ptr(g), ptr(x)); err == nil {
		t.Error("next on a freed handle succeeded")
	}
}

func TestSolverRejectsBadArguments(t *testing.T) {
	x := []float64{0, 0}
	good := func() lbfgsbArgs { return lbfgsbArgs{n: 2, x0: ptr(x)} }
	cases := []struct {
		name string
		edit func(*lbfgsbArgs)
		want string
	}{
		{"n zero", func(a *lbfgsbArgs) { a.n = 0 }, "n = 0"},
		{"n huge", func(a *lbfgsbArgs) { a.n = 1 << 50 }, "out of range"},
		{"null x0", func(a *lbfgsbArgs) { a.x0 = nil }, "x0 is a null"},
		{"history", func(a *lbfgsbArgs) { a.history = -1 }, "history_size"},
		{"kind", func(a *lbfgsbArgs) { a.precondKind = 7 }, "preconditioner kind 7"},
		{"diagonal null", func(a *lbfgsbArgs) { a.precondKind = precondDiagonal }, "null"},
		{"block null", func(a *lbfgsbArgs) { a.precondKind = precondBlock; a.precond1 = ptr(x) }, "null"},
		{"block odd", func(a *lbfgsbArgs) { a.n = 1; a.precondKind = precondBlock }, "even"},
		{"diagonal value", func(a *lbfgsbArgs) { a.precondKind = precondDiagonal; a.precond1 = ptr([]float64{1, 0}) }, "entry 1"},
	}
	for _, c := range cases {
		a := good()
		c.edit(&a)
		if _, err := newSolver(a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	h, err := newSolver(good())
	if err != nil {
		t.Fatal(err)
	}
	defer freeSolver(h)
	if _, err := nextTask(h, 0, nil, ptr(x)); err == nil || !strings.Contains(err.Error(), "grad") {
		t.Errorf("null grad on evaluation: %v", err)
	}
	if _, err := nextTask(h, 0, ptr(x), nil); err == nil {
		t.Error("null x accepted")
	}
	if _, err := solverState(h, nil, nil, nil); err == nil {
		t.Error("null info accepted")
	}
}
