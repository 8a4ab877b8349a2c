package main

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

// buffers allocates every buffer a call of the given sizes needs, as the
// ABI contract describes, so that only the checks decide the outcome.
func buffers(shots, ny, nx, nsrc, nrec, nsteps, nstore int, perShot bool) scalarCall {
	n := shots * ny * nx
	f := func(k int) unsafe.Pointer {
		if k == 0 {
			return nil
		}
		return unsafe.Pointer(&make([]float64, k)[0])
	}
	idx := func(k int) unsafe.Pointer {
		if k == 0 {
			return nil
		}
		return unsafe.Pointer(&make([]int64, k)[0])
	}
	models := 1
	if perShot {
		models = shots
	}
	prof := func(k int) unsafe.Pointer { return f(k) }
	a := scalarCall{
		dtype: 1, nShots: int64(shots), ny: int64(ny), nx: int64(nx), accuracy: 4,
		nSources: int64(nsrc), nReceivers: int64(nrec), nSteps: int64(nsteps), storeInterval: 1,
		nStore: int64(nstore), rdy: 0.1, rdx: 0.1, ndim: 2, nz: 1,
		c: f(models * ny * nx), ay: prof(ny), by: prof(ny), dby: prof(ny), ax: prof(nx), bx: prof(nx), dbx: prof(nx),
		sourceIndex: idx(shots * nsrc), receiverIndex: idx(shots * nrec),
		sourceAmp: f(nsteps * shots * nsrc), receiverAmp: f(nsteps * shots * nrec),
		store: f(nstore * n), gradC: f(n),
	}
	if perShot {
		a.modelPerShot = 1
	}
	for k := 0; k < 2; k++ {
		a.u[k], a.psiy[k], a.psix[k], a.zetay[k], a.zetax[k] = f(n), f(n), f(n), f(n), f(n)
	}
	return a
}

func setIndex(p unsafe.Pointer, n int, v int64) {
	if p != nil {
		unsafe.Slice((*int64)(p), n)[0] = v
	}
}

func TestRejectsBadArguments(t *testing.T) {
	good := func() scalarCall {
		a := buffers(2, 12, 14, 1, 2, 3, 3, false)
		for k, idx := range []unsafe.Pointer{a.sourceIndex, a.receiverIndex} {
			s := unsafe.Slice((*int64)(idx), 2*(k+1))
			for i := range s {
				s[i] = int64(5*14 + 5 + i)
			}
		}
		return a
	}
	if err := runScalarCall(good(), false); err != nil {
		t.Fatalf("valid call rejected: %v", err)
	}
	if err := runScalarCall(good(), true); err != nil {
		t.Fatalf("valid backward call rejected: %v", err)
	}
	cases := map[string]struct {
		edit func(*scalarCall)
		want string
	}{
		"accuracy":         {func(a *scalarCall) { a.accuracy = 5 }, "accuracy"},
		"dtype":            {func(a *scalarCall) { a.dtype = 7 }, "dtype"},
		"negative shots":   {func(a *scalarCall) { a.nShots = -1 }, "n_shots"},
		"empty grid":       {func(a *scalarCall) { a.nx = 0 }, "empty grid"},
		"grid too small":   {func(a *scalarCall) { a.ny, a.nx = 4, 4 }, "too small"},
		"null c":           {func(a *scalarCall) { a.c = nil }, "c is a null pointer"},
		"null field":       {func(a *scalarCall) { a.psix[1] = nil }, "psix[1]"},
		"source in halo":   {func(a *scalarCall) { setIndex(a.sourceIndex, 2, 0) }, "source index"},
		"receiver outside": {func(a *scalarCall) { setIndex(a.receiverIndex, 4, 12*14) }, "receiver index"},
		"negative index":   {func(a *scalarCall) { setIndex(a.sourceIndex, 2, -5) }, "source index"},
		"store too small":  {func(a *scalarCall) { a.nStore = 1; a.step0 = 2 }, "store"},
		"store interval":   {func(a *scalarCall) { a.storeInterval = 0 }, "store interval"},
		"store too late":   {func(a *scalarCall) { a.storeFirst = 1 }, "store starts"},
		"store negative":   {func(a *scalarCall) { a.storeFirst = -1 }, "store_first"},
		"huge":             {func(a *scalarCall) { a.ny = 1 << 41 }, "out of range"},
		"overflow":         {func(a *scalarCall) { a.ny, a.nx, a.nSteps = 1<<20, 1<<20, 1<<20 }, "overflow"},
		"bad spacing":      {func(a *scalarCall) { a.rdx = 0 }, "spacing"},
		"null amplitudes":  {func(a *scalarCall) { a.sourceAmp = nil }, "source_amplitudes"},
		"null index":       {func(a *scalarCall) { a.receiverIndex = nil }, "receiver_index"},
		"negative steps":   {func(a *scalarCall) { a.nSteps = -3 }, "n_steps"},
		"nan spacing":      {func(a *scalarCall) { a.rdy = math.NaN() }, "spacing"},
	}
	for name, tc := range cases {
		a := good()
		tc.edit(&a)
		err := runScalarCall(a, name == "store too small")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

// FuzzScalarArguments drives the ABI checks with arbitrary sizes and
// positions. Whatever the sizes, a call must either run or return an
// error; it must never panic or touch memory outside its buffers (buffers
// always match the sizes claimed, as the Python side guarantees).
func FuzzScalarArguments(f *testing.F) {
	f.Add(int8(1), int8(12), int8(12), int8(4), int8(1), int8(1), int8(0), int8(2), int8(1), int8(2), false, int64(5*12+5), int64(6*12+6), false)
	f.Add(int8(2), int8(9), int8(30), int8(8), int8(2), int8(0), int8(3), int8(4), int8(2), int8(1), true, int64(4*30+4), int64(-1), true)
	f.Fuzz(func(t *testing.T, shots, ny, nx, acc, nsrc, nrec, step0, nsteps, interval, nstore int8, perShot bool, srcIdx, recIdx int64, backward bool) {
		a := scalarCall{}
		ok := shots > 0 && shots <= 3 && ny > 0 && ny <= 40 && nx > 0 && nx <= 40 && nsrc >= 0 && nsrc <= 3 &&
			nrec >= 0 && nrec <= 3 && nsteps >= 0 && nsteps <= 6 && nstore >= 0 && nstore <= 8
		if ok {
			a = buffers(int(shots), int(ny), int(nx), int(nsrc), int(nrec), int(nsteps), int(nstore), perShot)
		} else {
			// Sizes the test cannot back with memory: pointers stay nil,
			// and the checks must refuse the call.
			a = scalarCall{nShots: int64(shots), ny: int64(ny), nx: int64(nx), nSources: int64(nsrc), nReceivers: int64(nrec),
				nSteps: int64(nsteps), nStore: int64(nstore), rdy: 1, rdx: 1, ndim: 2, nz: 1}
		}
		a.accuracy, a.step0, a.storeInterval = int64(acc), int64(step0), int64(interval)
		for i := 0; i < int(max(shots, 0))*int(max(nsrc, 0)) && a.sourceIndex != nil; i++ {
			unsafe.Slice((*int64)(a.sourceIndex), int(shots)*int(nsrc))[i] = srcIdx + int64(i)
		}
		for i := 0; i < int(max(shots, 0))*int(max(nrec, 0)) && a.receiverIndex != nil; i++ {
			unsafe.Slice((*int64)(a.receiverIndex), int(shots)*int(nrec))[i] = recIdx - int64(i)
		}
		err := runScalarCall(a, backward)
		if !ok && err == nil {
			t.Fatalf("call with unbacked sizes %+v was accepted", a)
		}
	})
}
