package main

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar3d"
)

// born3DBuffers is buffers3D plus the scattered wavefield's buffers, with
// the sources and both sets of receivers inside the grid.
func born3DBuffers(shots, nz, ny, nx, nsrc, nrec, nrecSc, nsteps, nstore int) bornCall {
	bg := buffers3D(shots, nz, ny, nx, nsrc, nrec, nsteps, nstore, false)
	n := shots * nz * ny * nx
	a := bornCall{bg: bg, dc: alloc(nz * ny * nx), nReceiversSc: int64(nrecSc),
		sourceAmpSc: alloc(nsteps * shots * nsrc), receiverAmpSc: alloc(nsteps * shots * nrecSc),
		storeSc: alloc(nstore * n), gradDC: alloc(n)}
	for k := 0; k < 2; k++ {
		a.uSc[k], a.psiySc[k], a.psixSc[k], a.zetaySc[k], a.zetaxSc[k] = alloc(n), alloc(n), alloc(n), alloc(n), alloc(n)
		a.psizSc[k], a.zetazSc[k] = alloc(n), alloc(n)
	}
	if k := shots * nrecSc; k > 0 {
		a.receiverIndexSc = unsafe.Pointer(&make([]int64, k)[0])
	}
	centre := int64(((nz/2)*ny+ny/2)*nx + nx/2)
	fillIndex(a.bg.sourceIndex, shots*nsrc, centre, 0)
	fillIndex(a.bg.receiverIndex, shots*nrec, centre+1, 0)
	fillIndex(a.receiverIndexSc, shots*nrecSc, centre-1, 0)
	return a
}

func good3DBorn() bornCall {
	a := born3DBuffers(2, 9, 10, 11, 1, 2, 3, 3, 3)
	a.adjointBg = 1
	return a
}

// TestBorn3DRuns checks that a 3D Born call through the ABI computes
// what the kernels compute from the same buffers: the z members of both
// field sets reach the kernels.
func TestBorn3DRuns(t *testing.T) {
	a := good3DBorn()
	const shots, nz, ny, nx, nsteps = 2, 9, 10, 11, 3
	n := shots * nz * ny * nx
	f64 := func(p unsafe.Pointer, k int) []float64 { return unsafe.Slice((*float64)(p), k) }
	az, bz := f64(a.bg.az, nz), f64(a.bg.bz, nz)
	az[2], az[3], bz[2], bz[3] = 0.5, 0.2, -0.3, -0.1
	c0, dc := f64(a.bg.c, nz*ny*nx), f64(a.dc, nz*ny*nx)
	for i := range c0 {
		c0[i], dc[i] = 0.2, 0.01*float64(i%7)
	}
	// Non-zero z CPML fields at a cell in the z PML, and sources.
	cell := (3*ny+5)*nx + 5
	f64(a.psizSc[0], n)[cell], f64(a.zetazSc[0], n)[cell+nx] = 1, 2
	f64(a.bg.psiz[0], n)[cell], f64(a.bg.zetaz[0], n)[cell+1] = -1, 0.5
	src, srcSc := f64(a.bg.sourceAmp, nsteps*shots), f64(a.sourceAmpSc, nsteps*shots)
	for i := range src {
		src[i], srcSc[i] = 1, -0.5
	}
	copyPair := func(v [2]unsafe.Pointer) [2][]float64 {
		return [2][]float64{append([]float64(nil), f64(v[0], n)...), append([]float64(nil), f64(v[1], n)...)}
	}
	fieldsOf := func(u, pz, py, px, zz, zy, zx [2]unsafe.Pointer) *scalar3d.Fields[float64] {
		return &scalar3d.Fields[float64]{U: copyPair(u), PsiZ: copyPair(pz), PsiY: copyPair(py), PsiX: copyPair(px),
			ZetaZ: copyPair(zz), ZetaY: copyPair(zy), ZetaX: copyPair(zx)}
	}
	bg := a.bg
	f := fieldsOf(bg.u, bg.psiz, bg.psiy, bg.psix, bg.zetaz, bg.zetay, bg.zetax)
	fsc := fieldsOf(a.uSc, a.psizSc, a.psiySc, a.psixSc, a.zetazSc, a.zetaySc, a.zetaxSc)
	p, _, c := scalar3DParts[float64](bg)
	bp := &scalar3d.BornProblem[float64]{Problem: p, DC: append([]float64(nil), f64(a.dc, nz*ny*nx)...),
		ScatteredReceiverIndex: unsafe.Slice((*int64)(a.receiverIndexSc), 6), NScatteredReceivers: 3}
	bc := &scalar3d.BornChunk[float64]{Chunk: *c, ScatteredSourceAmp: append([]float64(nil), f64(a.sourceAmpSc, nsteps*shots)...),
		ScatteredReceiverAmp: make([]float64, nsteps*shots*3), ScatteredStore: make([]float64, 3*n)}
	bc.ReceiverAmp, bc.Store = make([]float64, len(c.ReceiverAmp)), make([]float64, len(c.Store))
	scalar3d.BornForward(bp, f, fsc, bc)
	if err := runBornCall(a, false); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string]struct{ got, want []float64 }{
		"u_sc": {f64(a.uSc[1], n), fsc.U[1]}, "psiz_sc": {f64(a.psizSc[1], n), fsc.PsiZ[1]},
		"zetaz_sc": {f64(a.zetazSc[1], n), fsc.ZetaZ[1]}, "u": {f64(bg.u[1], n), f.U[1]},
		"store_sc": {f64(a.storeSc, 3*n), bc.ScatteredStore},
	} {
		nonzero := false
		for i := range pair.want {
			if pair.got[i] != pair.want[i] {
				t.Fatalf("%s differs at %d: %g, want %g", name, i, pair.got[i], pair.want[i])
			}
			nonzero = nonzero || pair.want[i] != 0
		}
		if !nonzero {
			t.Errorf("%s is all zero", name)
		}
	}
	if err := runBornCall(a, true); err != nil {
		t.Fatalf("backward: %v", err)
	}
}

func TestBorn3DRejectsBadArguments(t *testing.T) {
	for _, backward := range []bool{false, true} {
		if err := runBornCall(good3DBorn(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	a := good3DBorn()
	a.bg.dtype = 0
	for _, backward := range []bool{false, true} {
		if err := runBornCall(a, backward); err != nil {
			t.Fatalf("valid float32 call (backward %v) rejected: %v", backward, err)
		}
	}
	// The scattered adjoint alone uses none of the background's state.
	a = good3DBorn()
	a.adjointBg, a.bg.gradC, a.bg.sourceAmp, a.bg.receiverAmp = 0, nil, nil, nil
	a.bg.u, a.bg.psiy, a.bg.psix, a.bg.zetay, a.bg.zetax = [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}, [2]unsafe.Pointer{}
	a.bg.psiz, a.bg.zetaz = [2]unsafe.Pointer{}, [2]unsafe.Pointer{}
	if err := runBornCall(a, true); err != nil {
		t.Fatalf("scattered-only backward without background state rejected: %v", err)
	}
	cases := map[string]struct {
		edit     func(*bornCall)
		backward bool
		want     string
	}{
		"dtype":             {func(a *bornCall) { a.bg.dtype = 7 }, false, "dtype"},
		"zero nz":           {func(a *bornCall) { a.bg.nz = 0 }, false, "nz"},
		"huge nz":           {func(a *bornCall) { a.bg.nz = 1 << 41 }, false, "nz"},
		"overflow cells":    {func(a *bornCall) { a.bg.nz, a.bg.ny, a.bg.nx = 1<<14, 1<<14, 1<<14 }, false, "overflow"},
		"overflow sc":       {func(a *bornCall) { a.bg.nz, a.bg.ny, a.nReceiversSc = 1<<12, 1<<12, 1<<20 }, false, "overflow"},
		"too small":         {func(a *bornCall) { a.bg.nz = 4 }, false, "too small"},
		"null dc":           {func(a *bornCall) { a.dc = nil }, false, "dc is a null pointer"},
		"null az":           {func(a *bornCall) { a.bg.az = nil }, false, "az is a null pointer"},
		"null psiz_sc":      {func(a *bornCall) { a.psizSc[1] = nil }, false, "psiz_sc[1]"},
		"null zetaz_sc":     {func(a *bornCall) { a.zetazSc[0] = nil }, true, "zetaz_sc[0]"},
		"null psiy_sc":      {func(a *bornCall) { a.psiySc[0] = nil }, false, "psiy_sc[0]"},
		"null zetaz":        {func(a *bornCall) { a.bg.zetaz[1] = nil }, false, "zetaz[1]"},
		"bg adjoint psiz":   {func(a *bornCall) { a.bg.psiz[0] = nil }, true, "psiz[0]"},
		"null sc sources":   {func(a *bornCall) { a.sourceAmpSc = nil }, false, "source_amplitudes_sc"},
		"null sc index":     {func(a *bornCall) { a.receiverIndexSc = nil }, false, "receiver_index_sc"},
		"null sc receivers": {func(a *bornCall) { a.receiverAmpSc = nil }, true, "receiver_amplitudes_sc"},
		"negative sc":       {func(a *bornCall) { a.nReceiversSc = -1 }, false, "n_receivers_sc"},
		"coupling":          {func(a *bornCall) { a.couplingInterval = -2 }, false, "coupling_interval"},
		"grad dc interval":  {func(a *bornCall) { a.couplingInterval = 2 }, true, "coupling interval"},
		"sc index in halo":  {func(a *bornCall) { setIndex(a.receiverIndexSc, 6, 11*10+5) }, false, "scattered receiver index"},
		"grad c alone":      {func(a *bornCall) { a.adjointBg = 0 }, true, "background adjoint"},
		"one store":         {func(a *bornCall) { a.storeSc = nil }, true, "both"},
		"store start":       {func(a *bornCall) { a.bg.storeFirst = 1 }, true, "store starts"},
	}
	for name, tc := range cases {
		a := good3DBorn()
		tc.edit(&a)
		err := runBornCall(a, tc.backward)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

// FuzzBorn3DArguments is FuzzBornArguments for 3D calls: with arbitrary
// sizes, positions and adjoint modes, a call must either run or return an
// error, and never panic or reach outside its buffers.
func FuzzBorn3DArguments(f *testing.F) {
	f.Add(int8(1), int8(9), int8(10), int8(11), int8(4), int8(1), int8(1), int8(2), int8(0), int8(2), int8(1), int8(2), int8(0), int8(0),
		false, false, int64((4*10+4)*11+5), int64((4*10+5)*11+5), int64((5*10+5)*11+5), false, false)
	f.Add(int8(2), int8(12), int8(9), int8(10), int8(8), int8(2), int8(0), int8(1), int8(3), int8(4), int8(2), int8(1), int8(1), int8(3),
		true, true, int64(-1), int64(-1), int64((6*9+4)*10+4), true, true)
	f.Fuzz(func(t *testing.T, shots, nz, ny, nx, acc, nsrc, nrec, nrecSc, step0, nsteps, interval, nstore, storeFirst, coupling int8,
		perShot, adjointBg bool, srcIdx, recIdx, recScIdx int64, f32, backward bool) {
		ok := shots > 0 && shots <= 2 && nz > 0 && nz <= 14 && ny > 0 && ny <= 14 && nx > 0 && nx <= 16 &&
			nsrc >= 0 && nsrc <= 3 && nrec >= 0 && nrec <= 3 && nrecSc >= 0 && nrecSc <= 3 &&
			nsteps >= 0 && nsteps <= 3 && nstore >= 0 && nstore <= 4
		var a bornCall
		if ok {
			a = born3DBuffers(int(shots), int(nz), int(ny), int(nx), int(nsrc), int(nrec), int(nrecSc), int(nsteps), int(nstore))
			cells := int(nz) * int(ny) * int(nx)
			if perShot {
				a.bg.modelPerShot = 1
				a.bg.c, a.dc = models(int(shots), cells), models(int(shots), cells)
			}
			fillIndex(a.bg.sourceIndex, int(shots)*int(nsrc), srcIdx, 1)
			fillIndex(a.bg.receiverIndex, int(shots)*int(nrec), recIdx, -1)
			fillIndex(a.receiverIndexSc, int(shots)*int(nrecSc), recScIdx, 2)
		} else {
			// Sizes the test cannot back with memory: pointers stay nil,
			// and the checks must refuse the call.
			a = bornCall{bg: scalarCall{dtype: 1, nShots: int64(shots), nz: int64(nz), ny: int64(ny), nx: int64(nx),
				nSources: int64(nsrc), nReceivers: int64(nrec), nSteps: int64(nsteps), nStore: int64(nstore),
				rdz: 1, rdy: 1, rdx: 1, ndim: 3}, nReceiversSc: int64(nrecSc)}
		}
		if f32 {
			a.bg.dtype = 0 // float32 views half of each float64 buffer
		}
		a.bg.accuracy, a.bg.step0, a.bg.storeInterval, a.bg.storeFirst = int64(acc), int64(step0), int64(interval), int64(storeFirst)
		a.couplingInterval = int64(coupling)
		if adjointBg {
			a.adjointBg = 1
		}
		err := runBornCall(a, backward)
		if !ok && err == nil {
			t.Fatalf("call with unbacked sizes %+v was accepted", a)
		}
	})
}
