package main

import (
	"strings"
	"testing"
	"unsafe"
)

// maxwellBuffers allocates every buffer a call of the given sizes needs,
// so that only the checks decide the outcome.
func maxwellBuffers(shots, ny, nx, nsrc, nrec, nsteps, nstore int) maxwellCall {
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
	a := maxwellCall{
		dtype: 1, nShots: int64(shots), ny: int64(ny), nx: int64(nx), stencil: 4,
		nSources: int64(nsrc), nReceivers: int64(nrec), nSteps: int64(nsteps), storeInterval: 1,
		nStore: int64(nstore), rdy: 50, rdx: 50,
		ca: f(ny * nx), cb: f(ny * nx), cq: f(ny * nx),
		ay: f(ny), by: f(ny), ayh: f(ny), byh: f(ny), ax: f(nx), bx: f(nx), axh: f(nx), bxh: f(nx),
		hx: f(n), hz: f(n),
		sourceIndex: idx(shots * nsrc), receiverIndex: idx(shots * nrec),
		sourceAmp: f(nsteps * shots * nsrc), receiverAmp: f(nsteps * shots * nrec),
		storeEy: f(nstore * n), storeCurl: f(nstore * n), storeDZ: f(nstore * n), storeDX: f(nstore * n),
		gradCA: f(n), gradCB: f(n), gradCQ: f(n),
	}
	for k := 0; k < 2; k++ {
		a.ey[k], a.mEyX[k], a.mEyZ[k], a.mHxZ[k], a.mHzX[k] = f(n), f(n), f(n), f(n), f(n)
	}
	return a
}

func TestMaxwellRejectsBadArguments(t *testing.T) {
	good := func() maxwellCall {
		a := maxwellBuffers(2, 12, 14, 1, 2, 3, 3)
		for k, idx := range []unsafe.Pointer{a.sourceIndex, a.receiverIndex} {
			s := unsafe.Slice((*int64)(idx), 2*(k+1))
			for i := range s {
				s[i] = int64(5*14 + 5 + i)
			}
		}
		return a
	}
	for _, backward := range []bool{false, true} {
		if err := runMaxwellCall(good(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
		// Step 2 alone, with stores that hold snapshot 2 only.
		a := good()
		a.step0, a.storeFirst, a.nStore = 2, 2, 1
		a.nSteps = 1
		if err := runMaxwellCall(a, backward); err != nil {
			t.Fatalf("windowed store (backward %v) rejected: %v", backward, err)
		}
	}
	cases := map[string]struct {
		edit     func(*maxwellCall)
		backward bool
		want     string
	}{
		"stencil":         {func(a *maxwellCall) { a.stencil = 5 }, false, "stencil"},
		"dtype":           {func(a *maxwellCall) { a.dtype = 7 }, false, "dtype"},
		"negative shots":  {func(a *maxwellCall) { a.nShots = -1 }, false, "n_shots"},
		"empty grid":      {func(a *maxwellCall) { a.nx = 0 }, false, "empty grid"},
		"grid too small":  {func(a *maxwellCall) { a.ny, a.nx = 4, 4 }, false, "too small"},
		"null cq":         {func(a *maxwellCall) { a.cq = nil }, false, "cq is a null pointer"},
		"null profile":    {func(a *maxwellCall) { a.bxh = nil }, false, "bxh"},
		"null pair":       {func(a *maxwellCall) { a.mHzX[1] = nil }, true, "m_hz_x[1]"},
		"source in halo":  {func(a *maxwellCall) { unsafe.Slice((*int64)(a.sourceIndex), 2)[0] = 0 }, false, "source index"},
		"receiver out":    {func(a *maxwellCall) { unsafe.Slice((*int64)(a.receiverIndex), 4)[3] = 12 * 14 }, false, "receiver index"},
		"store too small": {func(a *maxwellCall) { a.nStore = 1; a.step0 = 2 }, false, "store"},
		"grad no store":   {func(a *maxwellCall) { a.storeCurl = nil }, true, "grad_cb"},
		"store too late":  {func(a *maxwellCall) { a.storeFirst = 1 }, false, "starts at snapshot"},
		"store negative":  {func(a *maxwellCall) { a.storeFirst = -1 }, false, "store_first"},
		"huge":            {func(a *maxwellCall) { a.ny = 1 << 41 }, false, "out of range"},
		"overflow":        {func(a *maxwellCall) { a.ny, a.nx, a.nSteps = 1<<20, 1<<20, 1<<20 }, false, "overflow"},
		"bad spacing":     {func(a *maxwellCall) { a.rdx = 0 }, false, "spacing"},
		"null amplitudes": {func(a *maxwellCall) { a.sourceAmp = nil }, false, "source_amplitudes"},
	}
	for name, tc := range cases {
		a := good()
		tc.edit(&a)
		err := runMaxwellCall(a, tc.backward)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}
