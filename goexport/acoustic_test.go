package main

import (
	"strings"
	"testing"
	"unsafe"
)

// acousticBuffers allocates every buffer an acoustic call of these sizes
// needs (n: nz, ny, nx with 1 for an axis ndim lacks; survey counts per
// [p, vz, vy, vx]), so that only the checks decide the outcome. Models and
// fields are zero; the profiles too.
func acousticBuffers(ndim, shots int, n [3]int, nsrc, nrec [4]int, nsteps, nstore int) acousticCall {
	all := shots * n[0] * n[1] * n[2]
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
	a := acousticCall{
		dtype: 1, ndim: int64(ndim), nShots: int64(shots), n: [3]int64{int64(n[0]), int64(n[1]), int64(n[2])},
		accuracy: 4, nSteps: int64(nsteps), storeInterval: 1, nStore: int64(nstore), dt: 1e-3,
		rd: [3]float64{0.1, 0.1, 0.1},
		k:  f(all / shots), p: f(all), storeK: f(nstore * all), gradK: f(all),
	}
	for _, d := range acousticAxes(int64(ndim)) {
		a.b[d] = f(all / shots)
		a.a[d], a.bp[d], a.ah[d], a.bh[d] = f(n[d]), f(n[d]), f(n[d]), f(n[d])
		a.v[d], a.phi[d], a.psi[d] = f(all), f(all), f(all)
		a.storeB[d], a.gradB[d] = f(nstore*all), f(all)
	}
	for i := range 4 {
		a.nSources[i], a.nReceivers[i] = int64(nsrc[i]), int64(nrec[i])
		a.sourceIndex[i], a.receiverIndex[i] = idx(shots*nsrc[i]), idx(shots*nrec[i])
		a.sourceAmp[i], a.receiverAmp[i] = f(nsteps*shots*nsrc[i]), f(nsteps*shots*nrec[i])
	}
	return a
}

// goodAcoustic is a valid 2D call: a pressure source and receiver and a
// vx receiver at cell (5, 5) of a 12×14 grid, two shots, three steps.
func goodAcoustic() acousticCall {
	a := acousticBuffers(2, 2, [3]int{1, 12, 14}, [4]int{1, 0, 0, 0}, [4]int{1, 0, 0, 1}, 3, 3)
	for _, p := range []unsafe.Pointer{a.sourceIndex[0], a.receiverIndex[0], a.receiverIndex[3]} {
		fillIndex(p, 2, 5*14+5, 1)
	}
	return a
}

func TestAcousticRejectsBadArguments(t *testing.T) {
	for _, backward := range []bool{false, true} {
		if err := runAcousticCall(goodAcoustic(), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	for _, c := range []struct {
		name string
		edit func(*acousticCall)
		want string
	}{
		{"ndim", func(a *acousticCall) { a.ndim = 4 }, "ndim"},
		{"dtype", func(a *acousticCall) { a.dtype = 7 }, "dtype"},
		{"negative size", func(a *acousticCall) { a.n[2] = -1 }, "nx"},
		{"huge size", func(a *acousticCall) { a.n[1] = 1 << 50 }, "ny"},
		{"overflowing product", func(a *acousticCall) { a.n[1], a.n[2] = 1<<30, 1<<30 }, "overflows"},
		{"nz in 2D", func(a *acousticCall) { a.n[0] = 2 }, "axis 0"},
		{"vz survey in 2D", func(a *acousticCall) { a.nReceivers[1] = 1 }, "lacks its axis"},
		{"null k", func(a *acousticCall) { a.k = nil }, "k is a null"},
		{"null buoyancy", func(a *acousticCall) { a.b[2] = nil }, "b[2]"},
		{"null profile", func(a *acousticCall) { a.ah[1] = nil }, "ah[1]"},
		{"null psi", func(a *acousticCall) { a.psi[2] = nil }, "psi[2]"},
		{"null receivers", func(a *acousticCall) { a.receiverAmp[3] = nil }, "receiver_amplitudes[3]"},
		{"null source index", func(a *acousticCall) { a.sourceIndex[0] = nil }, "source_index[0]"},
		{"accuracy", func(a *acousticCall) { a.accuracy = 5 }, "accuracy"},
		{"store interval", func(a *acousticCall) { a.storeInterval = 0 }, "store_interval"},
		{"store window", func(a *acousticCall) { a.storeFirst = 1 }, "store"},
		{"index outside", func(a *acousticCall) { fillIndex(a.sourceIndex[0], 1, 12*14, 0) }, "outside"},
		{"index in the halo", func(a *acousticCall) { fillIndex(a.receiverIndex[3], 1, 5*14+11, 0) }, "outside the field"},
	} {
		for _, backward := range []bool{false, true} {
			a := goodAcoustic()
			c.edit(&a)
			err := runAcousticCall(a, backward)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s (backward %v): got %v, want an error naming %q", c.name, backward, err, c.want)
			}
		}
	}
}

// FuzzAcousticArguments: with arbitrary dimensions, sizes, survey
// counts, positions and store windows, an acoustic call must either run
// or return an error, and never panic or reach outside its buffers.
func FuzzAcousticArguments(f *testing.F) {
	f.Add(int8(2), int8(1), int8(1), int8(12), int8(12), int8(4), int8(1), int8(1), int8(0), int8(1), int8(0), int8(2),
		int8(1), int8(2), int8(0), false, int64(5*12+5), int64(6*12+6), false, false)
	f.Add(int8(3), int8(2), int8(9), int8(9), int8(10), int8(2), int8(1), int8(0), int8(2), int8(1), int8(1), int8(3),
		int8(2), int8(2), int8(1), true, int64(4*90+4*10+4), int64(4*90+4*10+6), true, true)
	f.Add(int8(1), int8(1), int8(1), int8(1), int8(20), int8(8), int8(2), int8(2), int8(1), int8(1), int8(0), int8(4),
		int8(1), int8(4), int8(0), true, int64(6), int64(7), false, true)
	f.Fuzz(func(t *testing.T, ndim, shots, nz, ny, nx, acc, nsrcP, nrecP, nsrcV, nrecV, step0, nsteps, interval, nstore,
		storeFirst int8, perShot bool, srcIdx, recIdx int64, f32, backward bool) {
		ok := ndim >= 1 && ndim <= 3 && shots > 0 && shots <= 3 && nz > 0 && nz <= 16 && ny > 0 && ny <= 24 &&
			nx > 0 && nx <= 24 && nsrcP >= 0 && nsrcP <= 3 && nrecP >= 0 && nrecP <= 3 && nsrcV >= 0 && nsrcV <= 3 &&
			nrecV >= 0 && nrecV <= 3 && nsteps >= 0 && nsteps <= 5 && nstore >= 0 && nstore <= 6
		var a acousticCall
		if ok {
			// Every velocity field of a modelled axis gets the same counts.
			var src, rec [4]int
			src[0], rec[0] = int(nsrcP), int(nrecP)
			for _, d := range acousticAxes(int64(ndim)) {
				src[1+d], rec[1+d] = int(nsrcV), int(nrecV)
			}
			a = acousticBuffers(int(ndim), int(shots), [3]int{int(nz), int(ny), int(nx)}, src, rec, int(nsteps), int(nstore))
			cells := int(nz) * int(ny) * int(nx)
			if perShot {
				a.kPerShot, a.bPerShot = 1, 1
				a.k = models(int(shots), cells)
				for d := range 3 {
					a.b[d] = models(int(shots), cells)
				}
			}
			for i := range 4 {
				fillIndex(a.sourceIndex[i], int(shots)*src[i], srcIdx, 1)
				fillIndex(a.receiverIndex[i], int(shots)*rec[i], recIdx, -1)
			}
		} else {
			// Sizes the test cannot back with memory: pointers stay nil,
			// and the checks must refuse the call.
			a = acousticCall{dtype: 1, ndim: int64(ndim), nShots: int64(shots), n: [3]int64{int64(nz), int64(ny), int64(nx)},
				nSteps: int64(nsteps), nStore: int64(nstore), rd: [3]float64{1, 1, 1}, dt: 1e-3}
			a.nSources[0], a.nReceivers[0], a.nSources[3], a.nReceivers[3] = int64(nsrcP), int64(nrecP), int64(nsrcV), int64(nrecV)
		}
		if f32 {
			a.dtype = 0 // float32 views half of each float64 buffer
		}
		a.accuracy, a.step0, a.storeInterval, a.storeFirst = int64(acc), int64(step0), int64(interval), int64(storeFirst)
		err := runAcousticCall(a, backward)
		if !ok && err == nil {
			t.Fatalf("call with unbacked sizes %+v was accepted", a)
		}
	})
}
