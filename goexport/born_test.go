package main

import (
	"strings"
	"testing"
	"unsafe"
)

// bornBuffers allocates every buffer of a Born call of the given sizes,
// with sources and receivers (background and scattered) in the interior.
func bornBuffers(shots, ny, nx, nsrc, nrec, nrecSc, nsteps, nstore int) bornCall {
	bg := buffers(shots, ny, nx, nsrc, nrec, nsteps, nstore, false)
	n := shots * ny * nx
	f := func(k int) unsafe.Pointer {
		if k == 0 {
			return nil
		}
		return unsafe.Pointer(&make([]float64, k)[0])
	}
	a := bornCall{bg: bg, dc: f(ny * nx), nReceiversSc: int64(nrecSc),
		sourceAmpSc: f(nsteps * shots * nsrc), receiverAmpSc: f(nsteps * shots * nrecSc),
		storeSc: f(nstore * n), gradDC: f(n)}
	for k := 0; k < 2; k++ {
		a.uSc[k], a.psiySc[k], a.psixSc[k], a.zetaySc[k], a.zetaxSc[k] = f(n), f(n), f(n), f(n), f(n)
	}
	interior := func(k int, offset int) unsafe.Pointer {
		if k == 0 {
			return nil
		}
		idx := make([]int64, k)
		for i := range idx {
			idx[i] = int64((5+i%3)*nx + 5 + offset + i/3)
		}
		return unsafe.Pointer(&idx[0])
	}
	a.bg.sourceIndex, a.bg.receiverIndex = interior(shots*nsrc, 0), interior(shots*nrec, 1)
	a.receiverIndexSc = interior(shots*nrecSc, 2)
	return a
}

func TestBornRejectsBadArguments(t *testing.T) {
	good := func() bornCall { a := bornBuffers(2, 12, 14, 1, 2, 3, 3, 3); a.adjointBg = 1; return a }
	for _, backward := range []bool{false, true} {
		if err := runBornCall(good(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	// The scattered adjoint alone uses none of the background's state.
	a := good()
	a.adjointBg, a.bg.gradC, a.bg.sourceAmp, a.bg.receiverAmp = 0, nil, nil, nil
	a.bg.u, a.bg.psiy, a.bg.psix, a.bg.zetay, a.bg.zetax = [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}
	if err := runBornCall(a, true); err != nil {
		t.Fatalf("scattered-only backward without background state rejected: %v", err)
	}
	cases := map[string]struct {
		edit     func(*bornCall)
		backward bool
		want     string
	}{
		"dtype":                  {func(a *bornCall) { a.bg.dtype = 7 }, false, "dtype"},
		"null dc":                {func(a *bornCall) { a.dc = nil }, false, "dc is a null pointer"},
		"null scattered field":   {func(a *bornCall) { a.psixSc[1] = nil }, true, "psix_sc[1]"},
		"null background field":  {func(a *bornCall) { a.bg.u[0] = nil }, false, "u[0]"},
		"background field, adj.": {func(a *bornCall) { a.bg.zetax[1] = nil }, true, "zetax[1]"},
		"negative receivers":     {func(a *bornCall) { a.nReceiversSc = -1 }, false, "n_receivers_sc"},
		"huge receivers":         {func(a *bornCall) { a.nReceiversSc = 1 << 41 }, false, "n_receivers_sc"},
		"overflow":               {func(a *bornCall) { a.nReceiversSc = 1 << 39 }, false, "overflow"},
		"null receiver index":    {func(a *bornCall) { a.receiverIndexSc = nil }, false, "receiver_index_sc"},
		"null sources":           {func(a *bornCall) { a.sourceAmpSc = nil }, true, "source_amplitudes_sc"},
		"null receivers":         {func(a *bornCall) { a.receiverAmpSc = nil }, false, "receiver_amplitudes_sc"},
		"receiver in halo":       {func(a *bornCall) { setIndex(a.receiverIndexSc, 6, 0) }, false, "scattered receiver index"},
		"grad c without adjoint": {func(a *bornCall) { a.adjointBg = 0 }, true, "background adjoint"},
		"grad c without store":   {func(a *bornCall) { a.storeSc = nil }, true, "both"},
		"background sizes":       {func(a *bornCall) { a.bg.accuracy = 3 }, false, "accuracy"},
		"null store":             {func(a *bornCall) { a.bg.store = nil }, true, "store is a null pointer"},
	}
	for name, tc := range cases {
		a := good()
		tc.edit(&a)
		err := runBornCall(a, tc.backward)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

// TestBornCall runs a small forward call: the background receivers must
// equal a plain scalar call's, and the scattered ones must see the
// perturbation.
func TestBornCall(t *testing.T) {
	const shots, ny, nx, nsteps = 1, 16, 18, 12
	a := bornBuffers(shots, ny, nx, 1, 2, 2, nsteps, 0)
	fill := func(p unsafe.Pointer, n int, v float64) {
		s := unsafe.Slice((*float64)(p), n)
		for i := range s {
			s[i] = v
		}
	}
	fill(a.bg.c, ny*nx, 0.3)
	fill(a.dc, ny*nx, 0.05)
	fill(a.bg.sourceAmp, nsteps, 1)
	if err := runBornCall(a, false); err != nil {
		t.Fatal(err)
	}
	plain := buffers(shots, ny, nx, 1, 2, nsteps, 0, false)
	fill(plain.c, ny*nx, 0.3)
	fill(plain.sourceAmp, nsteps, 1)
	plain.sourceIndex, plain.receiverIndex = a.bg.sourceIndex, a.bg.receiverIndex
	if err := runScalarCall(plain, false); err != nil {
		t.Fatal(err)
	}
	got, want := unsafe.Slice((*float64)(a.bg.receiverAmp), nsteps*2), unsafe.Slice((*float64)(plain.receiverAmp), nsteps*2)
	var norm float64
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("background receiver %d: %g, want %g", i, got[i], want[i])
		}
		norm += got[i] * got[i]
	}
	var normSc float64
	for _, v := range unsafe.Slice((*float64)(a.receiverAmpSc), nsteps*2) {
		normSc += v * v
	}
	if norm == 0 || normSc == 0 {
		t.Errorf("receivers are silent: background %g, scattered %g", norm, normSc)
	}
}
