package main

import (
	"testing"
	"unsafe"
)

// FuzzScalar1DArguments is FuzzScalarArguments for 1D calls, whose y and
// z pointers are all null: with arbitrary sizes and positions a call must
// either run or return an error, and never panic or reach outside its
// buffers.
func FuzzScalar1DArguments(f *testing.F) {
	f.Add(int8(1), int8(1), int8(1), int8(12), int8(4), int8(1), int8(1), int8(0), int8(2), int8(1), int8(2), int8(0),
		false, int64(5), int64(6), false, false)
	f.Add(int8(2), int8(1), int8(1), int8(30), int8(8), int8(2), int8(0), int8(3), int8(4), int8(2), int8(1), int8(1),
		true, int64(4), int64(-1), true, true)
	f.Fuzz(func(t *testing.T, shots, ny, nz, nx, acc, nsrc, nrec, step0, nsteps, interval, nstore, storeFirst int8,
		perShot bool, srcIdx, recIdx int64, f32, backward bool) {
		ok := shots > 0 && shots <= 3 && nx > 0 && nx <= 60 && nsrc >= 0 && nsrc <= 3 &&
			nrec >= 0 && nrec <= 3 && nsteps >= 0 && nsteps <= 6 && nstore >= 0 && nstore <= 8
		var a scalarCall
		if ok {
			a = buffers1D(int(shots), int(nx), int(nsrc), int(nrec), int(nsteps), int(nstore), perShot)
			fillIndex(a.sourceIndex, int(shots)*int(nsrc), srcIdx, 1)
			fillIndex(a.receiverIndex, int(shots)*int(nrec), recIdx, -1)
		} else {
			// Sizes the test cannot back with memory: pointers stay nil,
			// and the checks must refuse the call.
			a = scalarCall{dtype: 1, nShots: int64(shots), nx: int64(nx), nSources: int64(nsrc), nReceivers: int64(nrec),
				nSteps: int64(nsteps), nStore: int64(nstore), rdx: 1, ndim: 1}
		}
		a.ny, a.nz = int64(ny), int64(nz)
		a.accuracy, a.step0, a.storeInterval, a.storeFirst = int64(acc), int64(step0), int64(interval), int64(storeFirst)
		if f32 {
			a.dtype = 0 // float32 views half of each float64 buffer
		}
		err := runScalarCall(a, backward)
		if !ok && err == nil {
			t.Fatalf("call with unbacked sizes %+v was accepted", a)
		}
		if n, err := boundaryCells(a); err == nil && (n < 0 || n > int(nx)) {
			t.Fatalf("boundary cells %d on a grid of %d", n, nx)
		}
	})
}

// FuzzBorn1DArguments is FuzzBornArguments for 1D calls.
func FuzzBorn1DArguments(f *testing.F) {
	f.Add(int8(1), int8(12), int8(4), int8(1), int8(1), int8(2), int8(0), int8(2), int8(1), int8(2), int8(0), int8(0),
		false, false, int64(5), int64(6), int64(7), false, false)
	f.Add(int8(2), int8(30), int8(8), int8(2), int8(0), int8(1), int8(3), int8(4), int8(2), int8(1), int8(1), int8(3),
		true, true, int64(4), int64(-1), int64(5), true, true)
	f.Fuzz(func(t *testing.T, shots, nx, acc, nsrc, nrec, nrecSc, step0, nsteps, interval, nstore, storeFirst, coupling int8,
		perShot, adjointBg bool, srcIdx, recIdx, recScIdx int64, f32, backward bool) {
		ok := shots > 0 && shots <= 3 && nx > 0 && nx <= 60 && nsrc >= 0 && nsrc <= 3 &&
			nrec >= 0 && nrec <= 3 && nrecSc >= 0 && nrecSc <= 3 && nsteps >= 0 && nsteps <= 6 && nstore >= 0 && nstore <= 8
		var a bornCall
		if ok {
			a = born1DBuffers(int(shots), int(nx), int(nsrc), int(nrec), int(nrecSc), int(nsteps), int(nstore))
			if perShot {
				a.bg.modelPerShot = 1
				a.bg.c, a.dc = models(int(shots), int(nx)), models(int(shots), int(nx))
			}
			fillIndex(a.bg.sourceIndex, int(shots)*int(nsrc), srcIdx, 1)
			fillIndex(a.bg.receiverIndex, int(shots)*int(nrec), recIdx, -1)
			fillIndex(a.receiverIndexSc, int(shots)*int(nrecSc), recScIdx, 2)
		} else {
			a = bornCall{bg: scalarCall{dtype: 1, nShots: int64(shots), ny: 1, nx: int64(nx), nSources: int64(nsrc),
				nReceivers: int64(nrec), nSteps: int64(nsteps), nStore: int64(nstore), rdx: 1, ndim: 1, nz: 1},
				nReceiversSc: int64(nrecSc)}
		}
		if f32 {
			a.bg.dtype = 0
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

// FuzzBoundary1DArguments is FuzzBoundaryArguments for 1D calls.
func FuzzBoundary1DArguments(f *testing.F) {
	f.Add(int8(3), int8(0), int8(5), int8(0), uint8(0), int64(5), false, false)
	f.Add(int8(2), int8(1), int8(2), int8(1), uint8(5), int64(3), true, true)
	f.Fuzz(func(t *testing.T, nsteps, step0, nstrips, nstore int8, missing uint8, srcIdx int64, f32, backward bool) {
		if nsteps < 1 || nsteps > 6 {
			t.Skip("steps the buffers are not sized for")
		}
		a := boundary1DBuffers(t, int(nsteps))
		fillIndex(a.base.sourceIndex, 2, srcIdx, 1)
		backed := nstrips >= 0 && int(nstrips) <= int(nsteps)+2
		a.nStrips, a.base.step0 = int64(nstrips), int64(step0)
		if !backed {
			a.strips = nil
		}
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
