package main

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

// buffers3D is buffers for a 3D call of nz×ny×nx cells per shot.
func buffers3D(shots, nz, ny, nx, nsrc, nrec, nsteps, nstore int, perShot bool) scalarCall {
	a := buffers(shots, nz*ny, nx, nsrc, nrec, nsteps, nstore, perShot)
	f := func(k int) unsafe.Pointer { return unsafe.Pointer(&make([]float64, k)[0]) }
	a.ndim, a.nz, a.ny, a.rdz = 3, int64(nz), int64(ny), 0.1
	a.ay, a.by, a.dby = f(ny), f(ny), f(ny)
	a.az, a.bz, a.dbz = f(nz), f(nz), f(nz)
	n := shots * nz * ny * nx
	for k := 0; k < 2; k++ {
		a.psiz[k], a.zetaz[k] = f(n), f(n)
	}
	return a
}

// good3D is a valid 3D call: 2 shots of 9×10×11 cells, sources and
// receivers inside.
func good3D() scalarCall {
	a := buffers3D(2, 9, 10, 11, 1, 2, 3, 3, false)
	for k, idx := range []unsafe.Pointer{a.sourceIndex, a.receiverIndex} {
		s := unsafe.Slice((*int64)(idx), 2*(k+1))
		for i := range s {
			s[i] = int64((4*10+5)*11 + 3 + i)
		}
	}
	return a
}

func TestRejectsBadArguments3D(t *testing.T) {
	for _, backward := range []bool{false, true} {
		if err := runScalarCall(good3D(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	a32 := good3D()
	a32.dtype = 0
	if err := runScalarCall(a32, false); err != nil {
		t.Fatalf("valid float32 call rejected: %v", err)
	}
	cases := map[string]struct {
		edit func(*scalarCall)
		want string
	}{
		"accuracy":        {func(a *scalarCall) { a.accuracy = 5 }, "accuracy"},
		"dtype":           {func(a *scalarCall) { a.dtype = 7 }, "dtype"},
		"zero nz":         {func(a *scalarCall) { a.nz = 0 }, "nz"},
		"negative nz":     {func(a *scalarCall) { a.nz = -4 }, "nz"},
		"huge nz":         {func(a *scalarCall) { a.nz = 1 << 41 }, "nz"},
		"overflow nz·ny":  {func(a *scalarCall) { a.nz, a.ny = 1<<39, 1<<39 }, "overflow"},
		"overflow cells":  {func(a *scalarCall) { a.nz, a.ny, a.nx = 1<<14, 1<<14, 1<<14 }, "overflow"},
		"overflow steps":  {func(a *scalarCall) { a.nz, a.ny, a.nSteps = 1<<12, 1<<12, 1<<20 }, "overflow"},
		"grid too small":  {func(a *scalarCall) { a.nz = 4 }, "too small"},
		"null az":         {func(a *scalarCall) { a.az = nil }, "az is a null pointer"},
		"null dbz":        {func(a *scalarCall) { a.dbz = nil }, "dbz"},
		"null psiz":       {func(a *scalarCall) { a.psiz[1] = nil }, "psiz[1]"},
		"null zetaz":      {func(a *scalarCall) { a.zetaz[0] = nil }, "zetaz[0]"},
		"null psiy":       {func(a *scalarCall) { a.psiy[0] = nil }, "psiy[0]"},
		"source in halo":  {func(a *scalarCall) { setIndex(a.sourceIndex, 2, 11*10+5) }, "source index"},
		"receiver out":    {func(a *scalarCall) { setIndex(a.receiverIndex, 4, 9*10*11) }, "receiver index"},
		"store too small": {func(a *scalarCall) { a.nStore = 1; a.step0 = 2 }, "store"},
		"store interval":  {func(a *scalarCall) { a.storeInterval = 0 }, "store interval"},
		"bad rdz":         {func(a *scalarCall) { a.rdz = math.Inf(1) }, "spacing"},
		"nan rdz":         {func(a *scalarCall) { a.rdz = math.NaN() }, "spacing"},
		"null amplitudes": {func(a *scalarCall) { a.sourceAmp = nil }, "source_amplitudes"},
		"ndim":            {func(a *scalarCall) { a.ndim = 4 }, "ndim"},
	}
	for name, tc := range cases {
		a := good3D()
		tc.edit(&a)
		err := runScalarCall(a, name == "store too small")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

// FuzzScalar3DArguments drives the 3D checks with arbitrary sizes and
// positions: a call must run or return an error, never panic.
func FuzzScalar3DArguments(f *testing.F) {
	f.Add(int8(1), int8(9), int8(10), int8(11), int8(4), int8(1), int8(1), int8(0), int8(2), int8(1), int8(2), false, int64((4*10+4)*11+5), int64(500), false)
	f.Add(int8(2), int8(12), int8(9), int8(20), int8(8), int8(2), int8(0), int8(3), int8(4), int8(2), int8(1), true, int64(-1), int64(-1), true)
	f.Fuzz(func(t *testing.T, shots, nz, ny, nx, acc, nsrc, nrec, step0, nsteps, interval, nstore int8, perShot bool, srcIdx, recIdx int64, backward bool) {
		ok := shots > 0 && shots <= 2 && nz > 0 && nz <= 16 && ny > 0 && ny <= 16 && nx > 0 && nx <= 20 &&
			nsrc >= 0 && nsrc <= 3 && nrec >= 0 && nrec <= 3 && nsteps >= 0 && nsteps <= 4 && nstore >= 0 && nstore <= 5
		var a scalarCall
		if ok {
			a = buffers3D(int(shots), int(nz), int(ny), int(nx), int(nsrc), int(nrec), int(nsteps), int(nstore), perShot)
		} else {
			a = scalarCall{nShots: int64(shots), nz: int64(nz), ny: int64(ny), nx: int64(nx), nSources: int64(nsrc), nReceivers: int64(nrec),
				nSteps: int64(nsteps), nStore: int64(nstore), rdz: 1, rdy: 1, rdx: 1, ndim: 3}
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
		if _, cerr := boundaryCells(a); !ok && cerr == nil {
			t.Fatalf("boundary cells of unbacked sizes %+v accepted", a)
		}
	})
}

// boundaryBuffers3D is good3D plus strips for a whole run of nsteps, with
// a PML on the low z face so that the strips are not empty.
func boundaryBuffers3D(t *testing.T, nsteps int) boundaryCall {
	a := good3D()
	a.store, a.nStore = nil, 0
	az := unsafe.Slice((*float64)(a.az), 9)
	az[2], az[3] = 0.5, 0.2
	cells, err := boundaryCells(a)
	if err != nil || cells == 0 {
		t.Fatalf("boundary cells: %d, %v", cells, err)
	}
	n := 2 * 9 * 10 * 11
	f := func(k int) unsafe.Pointer { return unsafe.Pointer(&make([]float64, k)[0]) }
	return boundaryCall{
		base: a, nStrips: int64(nsteps + 2), strips: f(max((nsteps+2)*cells, nsteps*n) * 2),
		sourceAmp: f(nsteps * 2), u: [2]unsafe.Pointer{f(n), f(n)}, w: f(n),
	}
}

func TestBoundaryArguments3D(t *testing.T) {
	for _, backward := range []bool{false, true} {
		if err := runBoundaryCall(boundaryBuffers3D(t, 3), backward); err != nil {
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
		"base checks":    {func(a *boundaryCall) { a.base.psiz[0] = nil }, "psiz[0] is a null pointer"},
		"nz":             {func(a *boundaryCall) { a.base.nz = 0 }, "nz"},
	}
	for name, tc := range cases {
		a := boundaryBuffers3D(t, 3)
		tc.edit(&a)
		err := runBoundaryCall(a, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	a := boundaryBuffers3D(t, 3)
	a.base.bz = nil
	if _, err := boundaryCells(a.base); err == nil || !strings.Contains(err.Error(), "bz") {
		t.Errorf("boundary cells without a profile: %v", err)
	}
}
