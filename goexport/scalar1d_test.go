package main

import (
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar1d"
)

// alloc returns k zeroed float64s (nil for none).
func alloc(k int) unsafe.Pointer {
	if k == 0 {
		return nil
	}
	return unsafe.Pointer(&make([]float64, k)[0])
}

// buffers1D allocates every buffer a 1D call of the given sizes needs,
// leaving every y and z pointer null, with sources and receivers in the
// interior.
func buffers1D(shots, nx, nsrc, nrec, nsteps, nstore int, perShot bool) scalarCall {
	n := shots * nx
	models := 1
	if perShot {
		models = shots
	}
	a := scalarCall{
		dtype: 1, nShots: int64(shots), ny: 1, nx: int64(nx), accuracy: 4,
		nSources: int64(nsrc), nReceivers: int64(nrec), nSteps: int64(nsteps), storeInterval: 1,
		nStore: int64(nstore), rdx: 0.1, ndim: 1, nz: 1,
		c: alloc(models * nx), ax: alloc(nx), bx: alloc(nx), dbx: alloc(nx),
		sourceIndex: nil, receiverIndex: nil,
		sourceAmp: alloc(nsteps * shots * nsrc), receiverAmp: alloc(nsteps * shots * nrec),
		store: alloc(nstore * n), gradC: alloc(n),
	}
	if perShot {
		a.modelPerShot = 1
	}
	for k := 0; k < 2; k++ {
		a.u[k], a.psix[k], a.zetax[k] = alloc(n), alloc(n), alloc(n)
	}
	index := func(k, first int) unsafe.Pointer {
		if k == 0 {
			return nil
		}
		idx := make([]int64, k)
		for i := range idx {
			idx[i] = int64(first + i%3)
		}
		return unsafe.Pointer(&idx[0])
	}
	a.sourceIndex, a.receiverIndex = index(shots*nsrc, 4), index(shots*nrec, 5)
	c := unsafe.Slice((*float64)(a.c), models*nx)
	for i := range c {
		c[i] = 0.4
	}
	return a
}

// TestScalar1DRuns checks that a 1D call through the ABI, with every y
// and z pointer null, computes what the kernels compute.
func TestScalar1DRuns(t *testing.T) {
	a := buffers1D(2, 20, 1, 2, 5, 5, true)
	unsafe.Slice((*float64)(a.sourceAmp), 10)[0] = 1
	ax := unsafe.Slice((*float64)(a.ax), 20)
	ax[2], ax[3], ax[17] = 0.5, 0.2, 0.3
	p, f, c := scalar1DParts[float64](a)
	want := scalar1d.Fields[float64]{}
	for _, pair := range []struct{ dst, src *[2][]float64 }{{&want.U, &f.U}, {&want.PsiX, &f.PsiX}, {&want.ZetaX, &f.ZetaX}} {
		*pair.dst = [2][]float64{append([]float64(nil), pair.src[0]...), append([]float64(nil), pair.src[1]...)}
	}
	wc := *c
	wc.SourceAmp = append([]float64(nil), c.SourceAmp...)
	wc.ReceiverAmp, wc.Store = make([]float64, len(c.ReceiverAmp)), make([]float64, len(c.Store))
	scalar1d.Forward(p, &want, &wc)
	if err := runScalarCall(a, false); err != nil {
		t.Fatal(err)
	}
	got := unsafe.Slice((*float64)(a.u[1]), 40)
	for i := range got {
		if got[i] != want.U[1][i] {
			t.Fatalf("u differs at %d: %g, want %g", i, got[i], want.U[1][i])
		}
	}
	if math.Abs(got[4]) == 0 {
		t.Error("the source did not reach the wavefield")
	}
	if err := runScalarCall(a, true); err != nil {
		t.Fatalf("backward: %v", err)
	}
	a.dtype = 0 // float32 views half of each float64 buffer
	for _, backward := range []bool{false, true} {
		if err := runScalarCall(a, backward); err != nil {
			t.Fatalf("float32 (backward %v): %v", backward, err)
		}
	}
}

func TestScalar1DRejectsBadArguments(t *testing.T) {
	good := func() scalarCall { return buffers1D(2, 14, 1, 2, 3, 3, false) }
	for _, backward := range []bool{false, true} {
		if err := runScalarCall(good(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	cases := map[string]struct {
		edit func(*scalarCall)
		want string
	}{
		"accuracy":         {func(a *scalarCall) { a.accuracy = 5 }, "accuracy"},
		"dtype":            {func(a *scalarCall) { a.dtype = 7 }, "dtype"},
		"ny":               {func(a *scalarCall) { a.ny = 2 }, "ny = nz = 1"},
		"nz":               {func(a *scalarCall) { a.nz = 0 }, "ny = nz = 1"},
		"negative shots":   {func(a *scalarCall) { a.nShots = -1 }, "n_shots"},
		"empty grid":       {func(a *scalarCall) { a.nx = 0 }, "empty grid"},
		"grid too small":   {func(a *scalarCall) { a.nx = 4 }, "too small"},
		"null c":           {func(a *scalarCall) { a.c = nil }, "c is a null pointer"},
		"null profile":     {func(a *scalarCall) { a.dbx = nil }, "dbx is a null pointer"},
		"null field":       {func(a *scalarCall) { a.psix[1] = nil }, "psix[1]"},
		"null u":           {func(a *scalarCall) { a.u[0] = nil }, "u[0]"},
		"source in halo":   {func(a *scalarCall) { setIndex(a.sourceIndex, 2, 0) }, "source index"},
		"receiver outside": {func(a *scalarCall) { setIndex(a.receiverIndex, 4, 14) }, "receiver index"},
		"negative index":   {func(a *scalarCall) { setIndex(a.sourceIndex, 2, -5) }, "source index"},
		"store too small":  {func(a *scalarCall) { a.nStore = 1; a.step0 = 2 }, "store"},
		"store interval":   {func(a *scalarCall) { a.storeInterval = 0 }, "store interval"},
		"store too late":   {func(a *scalarCall) { a.storeFirst = 1 }, "store starts"},
		"store negative":   {func(a *scalarCall) { a.storeFirst = -1 }, "store_first"},
		"null store":       {func(a *scalarCall) { a.store = nil }, "store is a null pointer"},
		"huge":             {func(a *scalarCall) { a.nx = 1 << 41 }, "out of range"},
		"overflow":         {func(a *scalarCall) { a.nx, a.nSteps, a.nStore = 1<<30, 1<<20, 1<<20 }, "overflow"},
		"bad spacing":      {func(a *scalarCall) { a.rdx = 0 }, "spacing"},
		"nan spacing":      {func(a *scalarCall) { a.rdx = math.NaN() }, "spacing"},
		"null amplitudes":  {func(a *scalarCall) { a.sourceAmp = nil }, "source_amplitudes"},
		"null index":       {func(a *scalarCall) { a.receiverIndex = nil }, "receiver_index"},
		"negative steps":   {func(a *scalarCall) { a.nSteps = -3 }, "n_steps"},
	}
	for name, tc := range cases {
		a := good()
		tc.edit(&a)
		err := runScalarCall(a, name == "store too small")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	// rdy and the y/z members are not read in 1D.
	a := good()
	a.rdy, a.rdz = math.NaN(), -1
	if err := runScalarCall(a, false); err != nil {
		t.Errorf("1D call with unused rdy, rdz rejected: %v", err)
	}
}

// born1DBuffers is buffers1D plus the scattered wavefield's buffers.
func born1DBuffers(shots, nx, nsrc, nrec, nrecSc, nsteps, nstore int) bornCall {
	bg := buffers1D(shots, nx, nsrc, nrec, nsteps, nstore, false)
	n := shots * nx
	a := bornCall{bg: bg, dc: alloc(nx), nReceiversSc: int64(nrecSc),
		sourceAmpSc: alloc(nsteps * shots * nsrc), receiverAmpSc: alloc(nsteps * shots * nrecSc),
		storeSc: alloc(nstore * n), gradDC: alloc(n)}
	for k := 0; k < 2; k++ {
		a.uSc[k], a.psixSc[k], a.zetaxSc[k] = alloc(n), alloc(n), alloc(n)
	}
	if nrecSc > 0 {
		idx := make([]int64, shots*nrecSc)
		for i := range idx {
			idx[i] = int64(6 + i%2)
		}
		a.receiverIndexSc = unsafe.Pointer(&idx[0])
	}
	return a
}

func TestBorn1DRejectsBadArguments(t *testing.T) {
	good := func() bornCall { a := born1DBuffers(2, 14, 1, 2, 3, 3, 3); a.adjointBg = 1; return a }
	for _, backward := range []bool{false, true} {
		if err := runBornCall(good(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	// The scattered adjoint alone uses none of the background's state.
	a := good()
	a.adjointBg, a.bg.gradC, a.bg.sourceAmp, a.bg.receiverAmp = 0, nil, nil, nil
	a.bg.u, a.bg.psix, a.bg.zetax = [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}
	if err := runBornCall(a, true); err != nil {
		t.Fatalf("scattered-only backward without background state rejected: %v", err)
	}
	cases := map[string]struct {
		edit     func(*bornCall)
		backward bool
		want     string
	}{
		"dtype":              {func(a *bornCall) { a.bg.dtype = 7 }, false, "dtype"},
		"ny":                 {func(a *bornCall) { a.bg.ny = 3 }, false, "ny = nz = 1"},
		"null dc":            {func(a *bornCall) { a.dc = nil }, false, "dc is a null pointer"},
		"null scattered":     {func(a *bornCall) { a.zetaxSc[1] = nil }, false, "zetax_sc[1]"},
		"null background":    {func(a *bornCall) { a.bg.psix[0] = nil }, false, "psix[0]"},
		"background adjoint": {func(a *bornCall) { a.bg.u[1] = nil }, true, "u[1]"},
		"null sc sources":    {func(a *bornCall) { a.sourceAmpSc = nil }, false, "source_amplitudes_sc"},
		"null sc index":      {func(a *bornCall) { a.receiverIndexSc = nil }, false, "receiver_index_sc"},
		"null sc receivers":  {func(a *bornCall) { a.receiverAmpSc = nil }, true, "receiver_amplitudes_sc"},
		"negative sc":        {func(a *bornCall) { a.nReceiversSc = -1 }, false, "n_receivers_sc"},
		"coupling":           {func(a *bornCall) { a.couplingInterval = -2 }, false, "coupling_interval"},
		"grad dc interval":   {func(a *bornCall) { a.couplingInterval = 2 }, true, "coupling interval"},
		"sc index in halo":   {func(a *bornCall) { setIndex(a.receiverIndexSc, 6, 13) }, false, "scattered receiver index"},
		"grad c alone":       {func(a *bornCall) { a.adjointBg = 0 }, true, "background adjoint"},
		"one store":          {func(a *bornCall) { a.storeSc = nil }, true, "both"},
		"store start":        {func(a *bornCall) { a.bg.storeFirst = 1 }, true, "store starts"},
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

// boundary1DBuffers is buffers1D plus strips for a whole run of nsteps,
// with a PML at the left end so that the strips are not empty.
func boundary1DBuffers(t *testing.T, nsteps int) boundaryCall {
	a := buffers1D(2, 14, 1, 2, nsteps, 0, false)
	ax := unsafe.Slice((*float64)(a.ax), 14)
	ax[2], ax[3] = 0.5, 0.2
	cells, err := boundaryCells(a)
	if err != nil || cells == 0 {
		t.Fatalf("boundary cells: %d, %v", cells, err)
	}
	n := 2 * 14
	return boundaryCall{
		// Room for a whole store too, so that only the checks decide.
		base: a, nStrips: int64(nsteps + 2), strips: alloc(max((nsteps+2)*cells, nsteps*14) * 2),
		sourceAmp: alloc(nsteps * 2), u: [2]unsafe.Pointer{alloc(n), alloc(n)}, w: alloc(n),
	}
}

func TestBoundary1DArguments(t *testing.T) {
	for _, backward := range []bool{false, true} {
		if err := runBoundaryCall(boundary1DBuffers(t, 3), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	cases := map[string]struct {
		edit func(*boundaryCall)
		want string
	}{
		"null strips":    {func(a *boundaryCall) { a.strips = nil }, "strips"},
		"too few strips": {func(a *boundaryCall) { a.nStrips = 4 }, "strips"},
		"negative":       {func(a *boundaryCall) { a.nStrips = -1 }, "out of range"},
		"null u":         {func(a *boundaryCall) { a.u[1] = nil }, "u[1]"},
		"null w":         {func(a *boundaryCall) { a.w = nil }, "w is a null pointer"},
		"null sources":   {func(a *boundaryCall) { a.sourceAmp = nil }, "source_amplitudes"},
		"store too":      {func(a *boundaryCall) { a.base.store, a.base.nStore = a.strips, 3 }, "not both"},
		"dtype":          {func(a *boundaryCall) { a.base.dtype = 3 }, "dtype"},
		"base checks":    {func(a *boundaryCall) { a.base.c = nil }, "c is a null pointer"},
		"nz":             {func(a *boundaryCall) { a.base.nz = 2 }, "ny = nz = 1"},
	}
	for name, tc := range cases {
		a := boundary1DBuffers(t, 3)
		tc.edit(&a)
		err := runBoundaryCall(a, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	a := boundary1DBuffers(t, 3)
	if n, err := boundaryCells(a.base); err != nil || n != 4 {
		t.Errorf("boundary cells: %d, %v; want 4 (the PML cells 2, 3 and the 2 cells whose ψ derivative reads them)", n, err)
	}
	a.base.bx = nil
	if _, err := boundaryCells(a.base); err == nil || !strings.Contains(err.Error(), "bx") {
		t.Errorf("boundary cells without a profile: %v", err)
	}
}
