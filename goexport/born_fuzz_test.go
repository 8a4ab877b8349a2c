package main

import (
	"testing"
	"unsafe"
)

// fillIndex sets the n cell indices at p to first, first+stride, ...
func fillIndex(p unsafe.Pointer, n int, first, stride int64) {
	if p == nil || n <= 0 {
		return
	}
	for i, s := 0, unsafe.Slice((*int64)(p), n); i < n; i++ {
		s[i] = first + stride*int64(i)
	}
}

// models allocates the per-shot model of shots·cells values.
func models(shots, cells int) unsafe.Pointer {
	return unsafe.Pointer(&make([]float64, shots*cells)[0])
}

// FuzzBornArguments is FuzzScalarArguments for Born calls: with
// arbitrary sizes, positions and adjoint modes, a call must either run or
// return an error, and never panic or reach outside its buffers.
func FuzzBornArguments(f *testing.F) {
	f.Add(int8(1), int8(12), int8(12), int8(4), int8(1), int8(1), int8(2), int8(0), int8(2), int8(1), int8(2), int8(0),
		false, false, int64(5*12+5), int64(6*12+6), int64(6*12+7), false, false)
	f.Add(int8(2), int8(9), int8(30), int8(8), int8(2), int8(0), int8(1), int8(3), int8(4), int8(2), int8(1), int8(1),
		true, true, int64(4*30+4), int64(-1), int64(4*30+5), true, true)
	f.Fuzz(func(t *testing.T, shots, ny, nx, acc, nsrc, nrec, nrecSc, step0, nsteps, interval, nstore, storeFirst int8,
		perShot, adjointBg bool, srcIdx, recIdx, recScIdx int64, f32, backward bool) {
		ok := shots > 0 && shots <= 3 && ny > 0 && ny <= 40 && nx > 0 && nx <= 40 && nsrc >= 0 && nsrc <= 3 &&
			nrec >= 0 && nrec <= 3 && nrecSc >= 0 && nrecSc <= 3 && nsteps >= 0 && nsteps <= 6 && nstore >= 0 && nstore <= 8
		var a bornCall
		if ok {
			a = bornBuffers(int(shots), int(ny), int(nx), int(nsrc), int(nrec), int(nrecSc), int(nsteps), int(nstore))
			if perShot {
				a.bg.modelPerShot = 1
				a.bg.c, a.dc = models(int(shots), int(ny)*int(nx)), models(int(shots), int(ny)*int(nx))
			}
			fillIndex(a.bg.sourceIndex, int(shots)*int(nsrc), srcIdx, 1)
			fillIndex(a.bg.receiverIndex, int(shots)*int(nrec), recIdx, -1)
			fillIndex(a.receiverIndexSc, int(shots)*int(nrecSc), recScIdx, 2)
		} else {
			// Sizes the test cannot back with memory: pointers stay nil,
			// and the checks must refuse the call.
			a = bornCall{bg: scalarCall{dtype: 1, nShots: int64(shots), ny: int64(ny), nx: int64(nx), nSources: int64(nsrc),
				nReceivers: int64(nrec), nSteps: int64(nsteps), nStore: int64(nstore), rdy: 1, rdx: 1, ndim: 2, nz: 1},
				nReceiversSc: int64(nrecSc)}
		}
		if f32 {
			a.bg.dtype = 0 // float32 views half of each float64 buffer
		}
		a.bg.accuracy, a.bg.step0, a.bg.storeInterval, a.bg.storeFirst = int64(acc), int64(step0), int64(interval), int64(storeFirst)
		if adjointBg {
			a.adjointBg = 1
		}
		err := runBornCall(a, backward)
		if !ok && err == nil {
			t.Fatalf("call with unbacked sizes %+v was accepted", a)
		}
	})
}

// FuzzBoundaryArguments drives the boundary-strip checks: arbitrary step
// windows, strip counts and missing buffers on boundaryBuffers' grid.
// Strips beyond what is allocated come with a null pointer, which must
// be refused.
func FuzzBoundaryArguments(f *testing.F) {
	f.Add(int8(3), int8(0), int8(5), int8(0), uint8(0), int64(5*14+5), false, false)
	f.Add(int8(2), int8(1), int8(2), int8(1), uint8(5), int64(3), true, true)
	f.Fuzz(func(t *testing.T, nsteps, step0, nstrips, nstore int8, missing uint8, srcIdx int64, f32, backward bool) {
		if nsteps < 1 || nsteps > 6 {
			t.Skip("steps the buffers are not sized for")
		}
		a := boundaryBuffers(t, int(nsteps))
		fillIndex(a.base.sourceIndex, 2, srcIdx, 1)
		backed := nstrips >= 0 && int(nstrips) <= int(nsteps)+2
		a.nStrips, a.base.step0 = int64(nstrips), int64(step0)
		if !backed {
			a.strips = nil
		}
		// The strips hold at least nsteps snapshots of the grid, so a
		// store of up to nsteps snapshots can share them.
		if nstore > 0 && nstore <= nsteps {
			a.base.store, a.base.nStore = a.strips, int64(nstore)
		}
		for i, p := range []*unsafe.Pointer{&a.sourceAmp, &a.u[0], &a.u[1], &a.w, &a.base.gradC} {
			if missing&(1<<i) != 0 {
				*p = nil
			}
		}
		if f32 {
			a.base.dtype = 0
		}
		err := runBoundaryCall(a, backward)
		if !backed && err == nil {
			t.Fatalf("call with %d unbacked strips was accepted", nstrips)
		}
	})
}
