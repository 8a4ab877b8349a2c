package main

import "testing"

// FuzzMaxwellArguments is FuzzScalarArguments for Maxwell calls: with
// arbitrary sizes, positions and store windows, a call must either run
// or return an error, and never panic or reach outside its buffers.
func FuzzMaxwellArguments(f *testing.F) {
	f.Add(int8(1), int8(12), int8(12), int8(4), int8(1), int8(1), int8(0), int8(2), int8(1), int8(2), int8(0),
		false, int64(5*12+5), int64(6*12+6), false, false)
	f.Add(int8(2), int8(9), int8(30), int8(8), int8(2), int8(0), int8(2), int8(1), int8(2), int8(1), int8(2),
		true, int64(4*30+4), int64(-1), true, true)
	f.Fuzz(func(t *testing.T, shots, ny, nx, stencil, nsrc, nrec, step0, nsteps, interval, nstore, storeFirst int8,
		perShot bool, srcIdx, recIdx int64, f32, backward bool) {
		ok := shots > 0 && shots <= 3 && ny > 0 && ny <= 40 && nx > 0 && nx <= 40 && nsrc >= 0 && nsrc <= 3 &&
			nrec >= 0 && nrec <= 3 && nsteps >= 0 && nsteps <= 6 && nstore >= 0 && nstore <= 8
		var a maxwellCall
		if ok {
			a = maxwellBuffers(int(shots), int(ny), int(nx), int(nsrc), int(nrec), int(nsteps), int(nstore))
			if perShot {
				cells := int(ny) * int(nx)
				a.modelPerShot = 1
				a.ca, a.cb, a.cq = models(int(shots), cells), models(int(shots), cells), models(int(shots), cells)
			}
			fillIndex(a.sourceIndex, int(shots)*int(nsrc), srcIdx, 1)
			fillIndex(a.receiverIndex, int(shots)*int(nrec), recIdx, -1)
		} else {
			// Sizes the test cannot back with memory: pointers stay nil,
			// and the checks must refuse the call.
			a = maxwellCall{dtype: 1, nShots: int64(shots), ny: int64(ny), nx: int64(nx), nSources: int64(nsrc),
				nReceivers: int64(nrec), nSteps: int64(nsteps), nStore: int64(nstore), rdy: 1, rdx: 1}
		}
		if f32 {
			a.dtype = 0 // float32 views half of each float64 buffer
		}
		a.stencil, a.step0, a.storeInterval, a.storeFirst = int64(stencil), int64(step0), int64(interval), int64(storeFirst)
		err := runMaxwellCall(a, backward)
		if !ok && err == nil {
			t.Fatalf("call with unbacked sizes %+v was accepted", a)
		}
	})
}
