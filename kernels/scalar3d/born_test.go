package scalar3d

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// btNaiveStep is one forward step of one shot written out from the
// formula, with the weights spelled here: derivatives on the interior
// cells only, the full CPML formula on every axis everywhere.
func btNaiveStep(p *Problem[float64], s btState, src []float64, shot int) (next btState, w []float64) {
	w1 := map[int][]float64{2: {0.5}, 4: {2.0 / 3, -1.0 / 12}, 6: {0.75, -0.15, 1.0 / 60}, 8: {0.8, -0.2, 4.0 / 105, -1.0 / 280}}[p.Accuracy]
	w2 := map[int][]float64{2: {-2, 1}, 4: {-2.5, 4.0 / 3, -1.0 / 12}, 6: {-49.0 / 18, 1.5, -0.15, 1.0 / 90},
		8: {-205.0 / 72, 1.6, -0.2, 8.0 / 315, -1.0 / 560}}[p.Accuracy]
	nz, ny, nx, h := p.NZ, p.NY, p.NX, p.Halo()
	n := nz * ny * nx
	at := func(f []float64, z, y, x int) float64 { return f[(z*ny+y)*nx+x] }
	next = btState{u: make([]float64, n), up: btClone(s.u)}
	for d := range next.psi {
		next.psi[d], next.zeta[d] = make([]float64, n), make([]float64, n)
	}
	w = make([]float64, n)
	c := p.ModelOf(shot)
	type axis struct {
		rd       float64
		a, b, db []float64
	}
	axes := [3]axis{{p.RDZ, p.AZ, p.BZ, p.DBZ}, {p.RDY, p.AY, p.BY, p.DBY}, {p.RDX, p.AX, p.BX, p.DBX}}
	for z := h; z < nz-h; z++ {
		for y := h; y < ny-h; y++ {
			for x := h; x < nx-h; x++ {
				i := (z*ny+y)*nx + x
				for d, ax := range axes {
					// f along axis d at offset k from (z, y, x).
					along := func(f []float64, k int) float64 {
						switch d {
						case 0:
							return at(f, z+k, y, x)
						case 1:
							return at(f, z, y+k, x)
						}
						return at(f, z, y, x+k)
					}
					q := [3]int{z, y, x}[d]
					var d1u, d2u, d1apsi float64
					d2u = w2[0] * s.u[i]
					for k := 1; k <= h; k++ {
						d1u += w1[k-1] * (along(s.u, k) - along(s.u, -k))
						d2u += w2[k] * (along(s.u, k) + along(s.u, -k))
						d1apsi += w1[k-1] * (ax.a[q+k]*along(s.psi[d], k) - ax.a[q-k]*along(s.psi[d], -k))
					}
					d1u *= ax.rd
					d2u *= ax.rd * ax.rd
					d1apsi *= ax.rd
					tmp := (1+ax.b[q])*d2u + ax.db[q]*d1u + d1apsi
					w[i] += (1+ax.b[q])*tmp + ax.a[q]*s.zeta[d][i]
					next.psi[d][i] = ax.b[q]*d1u + ax.a[q]*s.psi[d][i]
					next.zeta[d][i] = ax.b[q]*tmp + ax.a[q]*s.zeta[d][i]
				}
				next.u[i] = c[i]*w[i] + 2*s.u[i] - s.up[i]
			}
		}
	}
	for r := 0; r < p.NSources; r++ {
		if i := p.SourceIndex[shot*p.NSources+r]; i >= 0 {
			next.u[i] += src[shot*p.NSources+r]
		}
	}
	return next, w
}

// btForward runs BornForward from the given states in one chunk, storing
// W(u) and W(δu) at every step.
func btForward(p *BornProblem[float64], x, xsc btState, src, ssc []float64, nsteps int) (f, fsc *Fields[float64], c *BornChunk[float64]) {
	n := p.NShots * p.Cells()
	f, fsc = btFields(x), btFields(xsc)
	c = &BornChunk[float64]{
		Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers),
			Store: make([]float64, nsteps*n)},
		ScatteredSourceAmp: ssc, ScatteredReceiverAmp: make([]float64, nsteps*p.NShots*p.NScatteredReceivers),
		ScatteredStore: make([]float64, nsteps*n),
	}
	if err := p.ValidateChunk(f, fsc, c, false); err != nil {
		panic(err)
	}
	BornForward(p, f, fsc, c)
	return f, fsc, c
}

func btEachCase(t *testing.T, fn func(t *testing.T, acc int, perShot bool)) {
	for _, acc := range []int{2, 4, 8} {
		for _, perShot := range []bool{false, true} {
			if acc == 8 && perShot {
				continue // keep the package fast; accuracy 8 runs shared
			}
			fn(t, acc, perShot)
		}
	}
}

// btGrid is the test grid of an accuracy: a PML of 2 cells and a few
// cells of interior inside a halo on every face.
func btGrid(acc int) (nz, ny, nx int) {
	h := acc / 2
	return 2*h + 9, 2*h + 10, 2*h + 11
}

// TestBornBackgroundMatchesNaive compares BornForward's background (the
// scalar forward step) with btNaiveStep, receivers and store included,
// and with Forward.
func TestBornBackgroundMatchesNaive(t *testing.T) {
	for _, acc := range []int{2, 4, 6, 8} {
		rng := rand.New(rand.NewPCG(1, uint64(acc)))
		nz, ny, nx := btGrid(acc)
		p := btProblem(acc, 2, nz, ny, nx, 2, acc == 4, rng)
		const nsteps = 5
		cells := p.Cells()
		x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
		src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
		f, _, c := btForward(p, x, xsc, src, btRandomVec(len(src), rng), nsteps)
		got := btCurrent(f, nsteps)
		// And Forward, the package's own scalar step.
		plain := btFields(x)
		rec := make([]float64, len(c.ReceiverAmp))
		Forward(p.Problem, plain, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
		for k, v := range btCurrent(plain, nsteps).vecs() {
			if d := btRelDiff(got.vecs()[k], v); d > 1e-12 {
				t.Errorf("accuracy %d: background field %d differs from Forward's by %.2e", acc, k, d)
			}
		}
		if d := btRelDiff(c.ReceiverAmp, rec); d > 1e-12 {
			t.Errorf("accuracy %d: background receivers differ from Forward's by %.2e", acc, d)
		}
		for shot := 0; shot < p.NShots; shot++ {
			part := func(v []float64) []float64 { return btClone(v[shot*cells : (shot+1)*cells]) }
			s := btState{u: part(x.u), up: part(x.up)}
			for d := range s.psi {
				s.psi[d], s.zeta[d] = part(x.psi[d]), part(x.zeta[d])
			}
			for n := 0; n < nsteps; n++ {
				for r := 0; r < p.NReceivers; r++ {
					j := shot*p.NReceivers + r
					if g, want := c.ReceiverAmp[n*p.NShots*p.NReceivers+j], s.u[p.ReceiverIndex[j]]; math.Abs(g-want) > 1e-12*(1+math.Abs(want)) {
						t.Fatalf("accuracy %d, shot %d, step %d: receiver %d is %g, want %g", acc, shot, n, r, g, want)
					}
				}
				var w []float64
				s, w = btNaiveStep(p.Problem, s, src[n*p.NShots*p.NSources:], shot)
				if d := btRelDiff(c.Store[(n*p.NShots+shot)*cells:(n*p.NShots+shot+1)*cells], w); d > 1e-12 {
					t.Errorf("accuracy %d, shot %d, step %d: W differs from the naive step's by %.2e", acc, shot, n, d)
				}
			}
			for k, v := range got.vecs() {
				if d := btRelDiff(v[shot*cells:(shot+1)*cells], s.vecs()[k]); d > 1e-12 {
					t.Errorf("accuracy %d, shot %d: field %d differs from the naive step's by %.2e", acc, shot, k, d)
				}
			}
		}
	}
}

// TestBornLinearisation checks the scattered receivers and final state
// against a central finite difference of the background in c (along dc),
// the sources and the initial state.
func TestBornLinearisation(t *testing.T) {
	btEachCase(t, func(t *testing.T, acc int, perShot bool) {
		rng := rand.New(rand.NewPCG(11, uint64(acc)))
		nz, ny, nx := btGrid(acc)
		p := btProblem(acc, 2, nz, ny, nx, 2, perShot, rng)
		const nsteps = 16
		x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
		src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
		ssc := btRandomVec(len(src), rng)
		_, fsc, c := btForward(p, x, xsc, src, ssc, nsteps)

		// The perturbed runs' backgrounds record at the scattered
		// receivers.
		const eps = 1e-6
		run := func(sign float64) ([]float64, btState) {
			bg := *p.Problem
			bg.C = btAxpy(p.C, sign*eps, p.DC)
			bg.ReceiverIndex, bg.NReceivers = p.ScatteredReceiverIndex, p.NScatteredReceivers
			q := &BornProblem[float64]{Problem: &bg, DC: make([]float64, len(p.DC))}
			var xs btState
			xs.u, xs.up = btAxpy(x.u, sign*eps, xsc.u), btAxpy(x.up, sign*eps, xsc.up)
			for d := range xs.psi {
				xs.psi[d], xs.zeta[d] = btAxpy(x.psi[d], sign*eps, xsc.psi[d]), btAxpy(x.zeta[d], sign*eps, xsc.zeta[d])
			}
			f, _, cc := btForward(q, xs, btZeroState(&bg), btAxpy(src, sign*eps, ssc), make([]float64, len(src)), nsteps)
			return cc.ReceiverAmp, btCurrent(f, nsteps)
		}
		rp, sp := run(1)
		rm, sm := run(-1)
		fd := func(a, b []float64) []float64 {
			out := make([]float64, len(a))
			for i := range a {
				out[i] = (a[i] - b[i]) / (2 * eps)
			}
			return out
		}
		if d := btRelDiff(c.ScatteredReceiverAmp, fd(rp, rm)); d > 1e-7 {
			t.Errorf("accuracy %d, per shot %v: scattered receivers differ from the finite difference by %.2e", acc, perShot, d)
		}
		for k, v := range btCurrent(fsc, nsteps).vecs() {
			if d := btRelDiff(v, fd(sp.vecs()[k], sm.vecs()[k])); d > 1e-7 {
				t.Errorf("accuracy %d, per shot %v: scattered state %d differs from the finite difference by %.2e", acc, perShot, k, d)
			}
		}
		if btMaxAbs(c.ScatteredReceiverAmp) == 0 {
			t.Errorf("accuracy %d: the scattered receivers are all zero", acc)
		}
	})
}

// TestBornAdjoint runs the dot-product tests with 1 and 2 threads.
func TestBornAdjoint(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, threads := range []int{1, 2} {
		parallel.SetThreads(threads)
		btEachCase(t, testBornScatteredAdjoint)
		btEachCase(t, testBornJointAdjoint)
	}
}

// testBornScatteredAdjoint is the dot-product test of the map from
// (δu's initial state, dc, scattered sources) to (scattered receivers,
// δu's final state) for a fixed background, with and without the
// background adjoint: it checks GradDC.
func testBornScatteredAdjoint(t *testing.T, acc int, perShot bool) {
	rng := rand.New(rand.NewPCG(12, uint64(acc)))
	nz, ny, nx := btGrid(acc)
	p := btProblem(acc, 3, nz, ny, nx, 2, perShot, rng)
	const nsteps = 12
	n := p.NShots * p.Cells()
	x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
	src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := btRandomVec(len(src), rng)
	_, fsc, fc := btForward(p, x, xsc, src, ssc, nsteps)
	ya := btRandomState(p.Problem, rng)
	reca := btRandomVec(len(fc.ScatteredReceiverAmp), rng)
	lhs := btDot(fc.ScatteredReceiverAmp, reca) + btStateDot(btCurrent(fsc, nsteps), ya)

	var first []float64
	for _, adjointBg := range []bool{false, true} {
		c := &BornChunk[float64]{
			Chunk:              Chunk[float64]{NSteps: nsteps, Store: fc.Store},
			ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: reca,
			GradDC: make([]float64, n), AdjointBackground: adjointBg,
		}
		var f *Fields[float64]
		if adjointBg {
			f = btFields(btZeroState(p.Problem))
			c.SourceAmp, c.ReceiverAmp = make([]float64, len(src)), make([]float64, len(fc.ReceiverAmp))
		}
		b := btAdjointFields(p.Problem, ya)
		if err := p.ValidateChunk(f, b, c, true); err != nil {
			t.Fatal(err)
		}
		BornBackward(p, f, b, c)
		xa := btAdjointState(p.Problem, b, nsteps)
		rhs := btDot(ssc, c.ScatteredSourceAmp) + btStateDot(xsc, xa) + btModelDot(p.Problem, p.DC, c.GradDC)
		if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
			t.Errorf("accuracy %d, per shot %v, background adjoint %v: <Jx,y>=%.15g <x,J'y>=%.15g rel %.2e",
				acc, perShot, adjointBg, lhs, rhs, rel)
		}
		out := append(append(btClone(c.GradDC), c.ScatteredSourceAmp...), xa.u...)
		if first == nil {
			first = out
		} else if !btEqual(first, out) {
			t.Errorf("accuracy %d, per shot %v: the scattered adjoint depends on the background adjoint", acc, perShot)
		}
	}
}

// testBornJointAdjoint is the dot-product test of the map from (both
// initial states, both sources) to (both receivers, both final states)
// for a fixed dc: it exercises the coupling in the background adjoint.
func testBornJointAdjoint(t *testing.T, acc int, perShot bool) {
	rng := rand.New(rand.NewPCG(13, uint64(acc)))
	nz, ny, nx := btGrid(acc)
	p := btProblem(acc, 3, nz, ny, nx, 2, perShot, rng)
	const nsteps = 12
	x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
	src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := btRandomVec(len(src), rng)
	f, fsc, fc := btForward(p, x, xsc, src, ssc, nsteps)
	ya, yasc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
	reca, recasc := btRandomVec(len(fc.ReceiverAmp), rng), btRandomVec(len(fc.ScatteredReceiverAmp), rng)
	lhs := btDot(fc.ReceiverAmp, reca) + btDot(fc.ScatteredReceiverAmp, recasc) +
		btStateDot(btCurrent(f, nsteps), ya) + btStateDot(btCurrent(fsc, nsteps), yasc)

	c := &BornChunk[float64]{
		Chunk:              Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: reca},
		ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: recasc,
		AdjointBackground: true,
	}
	b, bsc := btAdjointFields(p.Problem, ya), btAdjointFields(p.Problem, yasc)
	BornBackward(p, b, bsc, c)
	rhs := btDot(src, c.SourceAmp) + btDot(ssc, c.ScatteredSourceAmp) +
		btStateDot(x, btAdjointState(p.Problem, b, nsteps)) + btStateDot(xsc, btAdjointState(p.Problem, bsc, nsteps))
	if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
		t.Errorf("accuracy %d, per shot %v: <Jx,y>=%.15g <x,J'y>=%.15g rel %.2e", acc, perShot, lhs, rhs, rel)
	}
}

// TestBornModelGradient checks GradC (from both stores) and GradDC
// against central finite differences in c and dc of a loss on both
// receivers, at a few cells (interior, PML, receiver, source), and the
// background source gradient against a directional finite difference.
func TestBornModelGradient(t *testing.T) {
	btEachCase(t, func(t *testing.T, acc int, perShot bool) {
		rng := rand.New(rand.NewPCG(14, uint64(acc)))
		nz, ny, nx := btGrid(acc)
		p := btProblem(acc, 2, nz, ny, nx, 2, perShot, rng)
		const nsteps = 14
		n := p.NShots * p.Cells()
		x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
		src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
		ssc := btRandomVec(len(src), rng)
		y, ysc := btRandomVec(nsteps*p.NShots*p.NReceivers, rng), btRandomVec(nsteps*p.NShots*p.NScatteredReceivers, rng)
		loss := func(src []float64) float64 {
			_, _, c := btForward(p, x, xsc, src, ssc, nsteps)
			return btDot(y, c.ReceiverAmp) + btDot(ysc, c.ScatteredReceiverAmp)
		}
		_, _, fc := btForward(p, x, xsc, src, ssc, nsteps)
		c := &BornChunk[float64]{
			Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: y,
				Store: fc.Store, GradC: make([]float64, n)},
			ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: ysc,
			ScatteredStore: fc.ScatteredStore, GradDC: make([]float64, n), AdjointBackground: true,
		}
		f0, fsc0 := btFields(btZeroState(p.Problem)), btFields(btZeroState(p.Problem))
		if err := p.ValidateChunk(f0, fsc0, c, true); err != nil {
			t.Fatal(err)
		}
		BornBackward(p, f0, fsc0, c)

		const eps = 1e-6
		h := p.Halo()
		cell := func(z, y, x int) int { return (z*p.NY+y)*p.NX + x }
		for _, i := range []int{cell(h, h, h), cell(h+1, h+4, h+5), cell(nz/2, ny/2, nx/2), cell(nz-h-1, ny/2, nx-h-2),
			int(p.ScatteredReceiverIndex[0]), int(p.SourceIndex[0])} {
			for _, m := range []struct {
				name string
				v, g []float64
			}{{"c", p.C, c.GradC}, {"dc", p.DC, c.GradDC}} {
				grad := btModelGradient(p.Problem, m.g, i)
				v0 := m.v[i]
				m.v[i] = v0 + eps
				lp := loss(src)
				m.v[i] = v0 - eps
				lm := loss(src)
				m.v[i] = v0
				fd := (lp - lm) / (2 * eps)
				if math.Abs(fd-grad) > 1e-7*math.Max(1, math.Abs(fd)) {
					t.Errorf("accuracy %d, per shot %v, cell %d: grad %s %.10g, finite difference %.10g", acc, perShot, i, m.name, grad, fd)
				}
			}
		}

		ds := btRandomVec(len(src), rng)
		fd, grad := (loss(btAxpy(src, eps, ds))-loss(btAxpy(src, -eps, ds)))/(2*eps), btDot(ds, c.SourceAmp)
		if math.Abs(fd-grad) > 1e-7*math.Max(1, math.Abs(fd)) {
			t.Errorf("accuracy %d, per shot %v: source gradient %.10g, finite difference %.10g", acc, perShot, grad, fd)
		}
	})
}

// TestBornChunks runs forward and backward in chunks, each with stores
// that hold only its own snapshots (interval 2), and compares every output
// with one call over all steps.
func TestBornChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	nz, ny, nx := btGrid(4)
	p := btProblem(4, 2, nz, ny, nx, 2, true, rng)
	p.StoreInterval = 2
	const nsteps = 12
	n := p.NShots * p.Cells()
	x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
	src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := btRandomVec(len(src), rng)
	y, ysc := btRandomVec(nsteps*p.NShots*p.NReceivers, rng), btRandomVec(nsteps*p.NShots*p.NScatteredReceivers, rng)
	ya, yasc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
	nsrc, nrec, nrsc := p.NShots*p.NSources, p.NShots*p.NReceivers, p.NShots*p.NScatteredReceivers

	type outputs struct{ fwd, fwdSc, store, storeSc, bwd []float64 }
	run := func(counts []int) outputs {
		var o outputs
		f, fsc := btFields(x), btFields(xsc)
		type chunk struct {
			step0, count, first int
			store, storeSc      []float64
		}
		var chunks []chunk
		step := 0
		for _, count := range counts {
			first, last := (step+1)/2, (step+count-1)/2
			k := chunk{step, count, first, make([]float64, (last-first+1)*n), make([]float64, (last-first+1)*n)}
			c := &BornChunk[float64]{
				Chunk: Chunk[float64]{Step0: step, NSteps: count, SourceAmp: src[step*nsrc : (step+count)*nsrc],
					ReceiverAmp: make([]float64, count*nrec), Store: k.store, StoreFirst: first},
				ScatteredSourceAmp: ssc[step*nsrc : (step+count)*nsrc], ScatteredReceiverAmp: make([]float64, count*nrsc),
				ScatteredStore: k.storeSc,
			}
			if err := p.ValidateChunk(f, fsc, c, false); err != nil {
				t.Fatal(err)
			}
			BornForward(p, f, fsc, c)
			o.fwd, o.fwdSc = append(o.fwd, c.ReceiverAmp...), append(o.fwdSc, c.ScatteredReceiverAmp...)
			o.store, o.storeSc = append(o.store, k.store...), append(o.storeSc, k.storeSc...)
			btSwap(count, f, fsc)
			chunks = append(chunks, k)
			step += count
		}
		o.fwdSc = append(append(o.fwdSc, f.U[0]...), fsc.ZetaZ[0]...)

		b, bsc := btAdjointFields(p.Problem, ya), btAdjointFields(p.Problem, yasc)
		gc, gdc := make([]float64, n), make([]float64, n)
		gs, gssc := make([]float64, len(src)), make([]float64, len(ssc))
		for j := len(chunks) - 1; j >= 0; j-- {
			k := chunks[j]
			s0, s1 := k.step0, k.step0+k.count
			c := &BornChunk[float64]{
				Chunk: Chunk[float64]{Step0: s0, NSteps: k.count, SourceAmp: gs[s0*nsrc : s1*nsrc],
					ReceiverAmp: y[s0*nrec : s1*nrec], Store: k.store, StoreFirst: k.first, GradC: gc},
				ScatteredSourceAmp: gssc[s0*nsrc : s1*nsrc], ScatteredReceiverAmp: ysc[s0*nrsc : s1*nrsc],
				ScatteredStore: k.storeSc, GradDC: gdc, AdjointBackground: true,
			}
			if err := p.ValidateChunk(b, bsc, c, true); err != nil {
				t.Fatal(err)
			}
			BornBackward(p, b, bsc, c)
			btSwap(k.count, b, bsc)
		}
		o.bwd = append(append(append(append(append(append(o.bwd, gc...), gdc...), gs...), gssc...), b.U[0]...), bsc.PsiY[0]...)
		return o
	}
	whole, chunked := run([]int{nsteps}), run([]int{5, 4, 3})
	if !btEqual(whole.fwd, chunked.fwd) || !btEqual(whole.fwdSc, chunked.fwdSc) {
		t.Error("chunked forward differs from one call")
	}
	if !btEqual(whole.store, chunked.store) || !btEqual(whole.storeSc, chunked.storeSc) {
		t.Error("chunked stores differ from one call's")
	}
	if !btEqual(whole.bwd, chunked.bwd) {
		t.Error("chunked backward differs from one call")
	}
	if btMaxAbs(whole.bwd) == 0 {
		t.Error("the backward outputs are all zero")
	}
}

// TestBornFloat32 runs the float32 kernels through Born forward and
// backward and compares with float64.
func TestBornFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	nz, ny, nx := btGrid(8)
	p := btProblem(8, 2, nz, ny, nx, 2, false, rng)
	const nsteps = 10
	n := p.NShots * p.Cells()
	x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
	src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := btRandomVec(len(src), rng)
	f, fsc, fc := btForward(p, x, xsc, src, ssc, nsteps)
	c := &BornChunk[float64]{
		Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: fc.ReceiverAmp,
			Store: fc.Store, GradC: make([]float64, n)},
		ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: fc.ScatteredReceiverAmp,
		ScatteredStore: fc.ScatteredStore, GradDC: make([]float64, n), AdjointBackground: true,
	}
	BornBackward(p, f, fsc, c)

	bg := p.Problem
	q := &BornProblem[float32]{
		Problem: &Problem[float32]{NShots: bg.NShots, NZ: bg.NZ, NY: bg.NY, NX: bg.NX, Accuracy: bg.Accuracy,
			RDZ: bg.RDZ, RDY: bg.RDY, RDX: bg.RDX, C: btF32(bg.C),
			AZ: btF32(bg.AZ), BZ: btF32(bg.BZ), DBZ: btF32(bg.DBZ), AY: btF32(bg.AY), BY: btF32(bg.BY), DBY: btF32(bg.DBY),
			AX: btF32(bg.AX), BX: btF32(bg.BX), DBX: btF32(bg.DBX),
			SourceIndex: bg.SourceIndex, ReceiverIndex: bg.ReceiverIndex, NSources: bg.NSources, NReceivers: bg.NReceivers,
			StoreInterval: 1},
		DC: btF32(p.DC), ScatteredReceiverIndex: p.ScatteredReceiverIndex, NScatteredReceivers: p.NScatteredReceivers,
	}
	conv := func(f *Fields[float64]) *Fields[float32] {
		pair := func(v [2][]float64) [2][]float32 { return [2][]float32{btF32(v[0]), btF32(v[1])} }
		return &Fields[float32]{U: pair(f.U), PsiZ: pair(f.PsiZ), PsiY: pair(f.PsiY), PsiX: pair(f.PsiX),
			ZetaZ: pair(f.ZetaZ), ZetaY: pair(f.ZetaY), ZetaX: pair(f.ZetaX)}
	}
	f32, fsc32 := conv(btFields(x)), conv(btFields(xsc))
	c32 := &BornChunk[float32]{
		Chunk: Chunk[float32]{NSteps: nsteps, SourceAmp: btF32(src), ReceiverAmp: make([]float32, len(fc.ReceiverAmp)),
			Store: make([]float32, nsteps*n)},
		ScatteredSourceAmp: btF32(ssc), ScatteredReceiverAmp: make([]float32, len(fc.ScatteredReceiverAmp)),
		ScatteredStore: make([]float32, nsteps*n),
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	BornForward(q, f32, fsc32, c32)
	recsc32 := append([]float32(nil), c32.ScatteredReceiverAmp...)
	c32.SourceAmp, c32.ScatteredSourceAmp = make([]float32, len(src)), make([]float32, len(ssc))
	c32.GradC, c32.GradDC, c32.AdjointBackground = make([]float32, n), make([]float32, n), true
	BornBackward(q, f32, fsc32, c32)
	for _, k := range []struct {
		name string
		a    []float32
		b    []float64
	}{
		{"scattered receivers", recsc32, fc.ScatteredReceiverAmp}, {"grad c", c32.GradC, c.GradC},
		{"grad dc", c32.GradDC, c.GradDC}, {"source gradient", c32.SourceAmp, c.SourceAmp},
		{"scattered source gradient", c32.ScatteredSourceAmp, c.ScatteredSourceAmp}, {"mu", f32.U[0], f.U[0]},
		{"mu sc", fsc32.U[0], fsc.U[0]}, {"adjoint zetay", f32.ZetaY[0], f.ZetaY[0]},
	} {
		if d := btMaxRelDiff(k.a, k.b); d > 2e-5 || math.IsNaN(d) {
			t.Errorf("%s: float32 and float64 differ by %.2e (relative to max)", k.name, d)
		}
	}
}

func TestBornValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 18))
	good := func() (*BornProblem[float64], *Fields[float64], *Fields[float64], *BornChunk[float64]) {
		p := btProblem(4, 2, 9, 10, 11, 2, false, rng)
		const nsteps = 3
		n := p.NShots * p.Cells()
		c := &BornChunk[float64]{
			Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, nsteps*p.NShots*p.NSources),
				ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers), Store: make([]float64, nsteps*n), GradC: make([]float64, n)},
			ScatteredSourceAmp: make([]float64, nsteps*p.NShots*p.NSources), ScatteredReceiverAmp: make([]float64, nsteps*p.NShots*p.NScatteredReceivers),
			ScatteredStore: make([]float64, nsteps*n), GradDC: make([]float64, n), AdjointBackground: true,
		}
		return p, btFields(btZeroState(p.Problem)), btFields(btZeroState(p.Problem)), c
	}
	p, f, fsc, c := good()
	if err := p.ValidateChunk(f, fsc, c, true); err != nil {
		t.Fatalf("valid chunk rejected: %v", err)
	}
	c.GradC, c.AdjointBackground = nil, false
	if err := p.ValidateChunk(nil, fsc, c, true); err != nil {
		t.Fatalf("scattered-only backward without background fields rejected: %v", err)
	}
	type edit = func(*BornProblem[float64], *Fields[float64], *Fields[float64], *BornChunk[float64])
	for name, tc := range map[string]struct {
		edit     edit
		backward bool
		want     string
	}{
		"dc":             {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) { p.DC = p.DC[1:] }, false, "dc has"},
		"receiver index": {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) { p.NScatteredReceivers = 3 }, false, "scattered receiver index"},
		"receiver in halo": {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) {
			p.ScatteredReceiverIndex[0] = 1
		}, false, "scattered receiver index"},
		"background":       {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) { p.Accuracy = 3 }, false, "accuracy"},
		"coupling":         {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) { p.CouplingInterval = -1 }, false, "coupling"},
		"scattered field":  {func(_ *BornProblem[float64], _, fsc *Fields[float64], _ *BornChunk[float64]) { fsc.ZetaZ[1] = nil }, false, "zetaz_sc[1]"},
		"background field": {func(_ *BornProblem[float64], f, _ *Fields[float64], _ *BornChunk[float64]) { f.PsiZ[0] = f.PsiZ[0][1:] }, false, "psiz[0]"},
		"scattered sources": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) {
			c.ScatteredSourceAmp = nil
		}, false, "scattered source"},
		"scattered recs": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) {
			c.ScatteredReceiverAmp = c.ScatteredReceiverAmp[1:]
		}, true, "scattered receiver amplitudes"},
		"scattered store": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) {
			c.ScatteredStore = c.ScatteredStore[1:]
		}, false, "scattered store"},
		"store":     {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) { c.Store = c.Store[1:] }, true, "store has"},
		"grad dc":   {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) { c.GradDC = c.GradDC[1:] }, true, "grad dc"},
		"one store": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) { c.ScatteredStore = nil }, true, "both"},
		"grad c alone": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) {
			c.AdjointBackground = false
		}, true, "background adjoint"},
		"store start": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) { c.StoreFirst = 1 }, true, "store starts"},
		"grad dc interval": {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) {
			p.CouplingInterval = 2
		}, true, "coupling interval"},
		"boundary": {func(_ *BornProblem[float64], _, _ *Fields[float64], c *BornChunk[float64]) {
			c.Boundary = &Boundary[float64]{}
		}, false, "boundary"},
	} {
		p, f, fsc, c := good()
		tc.edit(p, f, fsc, c)
		err := p.Validate()
		if err == nil {
			err = p.ValidateChunk(f, fsc, c, tc.backward)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	if err := (&BornProblem[float64]{}).Validate(); err == nil {
		t.Error("a Born problem without a background was accepted")
	}
	if err := p.ValidateChunk(f, nil, c, false); err == nil {
		t.Error("a chunk without scattered fields was accepted")
	}
}

// TestBornCouplingInterval checks a coupling every k steps against
// single steps whose dc is k·dc on coupled steps and zero otherwise, and
// the background adjoint of such a run by the dot-product test.
func TestBornCouplingInterval(t *testing.T) {
	btEachCase(t, func(t *testing.T, acc int, perShot bool) {
		const k, nsteps = 3, 10
		rng := rand.New(rand.NewPCG(21, uint64(acc)))
		nz, ny, nx := btGrid(acc)
		p := btProblem(acc, 2, nz, ny, nx, 2, perShot, rng)
		x, xsc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
		src := btRandomVec(nsteps*p.NShots*p.NSources, rng)
		ssc := btRandomVec(len(src), rng)

		p.CouplingInterval = k
		f, fsc, fc := btForward(p, x, xsc, src, ssc, nsteps)

		dc := p.DC
		p.CouplingInterval = 0
		want, g := btFields(xsc), btFields(x)
		rec := make([]float64, 0, len(fc.ScatteredReceiverAmp))
		for n := 0; n < nsteps; n++ {
			scaled := make([]float64, len(dc))
			if n%k == 0 {
				for i, d := range dc {
					scaled[i] = k * d
				}
			}
			p.DC = scaled
			m := p.NShots * p.NSources
			one := &BornChunk[float64]{
				Chunk: Chunk[float64]{Step0: n, NSteps: 1, SourceAmp: src[n*m : (n+1)*m],
					ReceiverAmp: make([]float64, p.NShots*p.NReceivers)},
				ScatteredSourceAmp: ssc[n*m : (n+1)*m], ScatteredReceiverAmp: make([]float64, p.NShots*p.NScatteredReceivers),
			}
			BornForward(p, g, want, one)
			btSwap(1, g, want)
			rec = append(rec, one.ScatteredReceiverAmp...)
		}
		p.DC, p.CouplingInterval = dc, k
		if d := btRelDiff(rec, fc.ScatteredReceiverAmp); d > 1e-12 {
			t.Errorf("accuracy %d, per shot %v: scattered receivers differ by %.2e", acc, perShot, d)
		}
		if d := btRelDiff(btCurrent(want, 0).u, btCurrent(fsc, nsteps).u); d > 1e-12 {
			t.Errorf("accuracy %d, per shot %v: scattered field differs by %.2e", acc, perShot, d)
		}

		ya, yasc := btRandomState(p.Problem, rng), btRandomState(p.Problem, rng)
		reca, recasc := btRandomVec(len(fc.ReceiverAmp), rng), btRandomVec(len(fc.ScatteredReceiverAmp), rng)
		lhs := btDot(fc.ReceiverAmp, reca) + btDot(fc.ScatteredReceiverAmp, recasc) +
			btStateDot(btCurrent(f, nsteps), ya) + btStateDot(btCurrent(fsc, nsteps), yasc)
		c := &BornChunk[float64]{
			Chunk:              Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: reca},
			ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: recasc,
			AdjointBackground: true,
		}
		b, bsc := btAdjointFields(p.Problem, ya), btAdjointFields(p.Problem, yasc)
		BornBackward(p, b, bsc, c)
		rhs := btDot(src, c.SourceAmp) + btDot(ssc, c.ScatteredSourceAmp) +
			btStateDot(x, btAdjointState(p.Problem, b, nsteps)) + btStateDot(xsc, btAdjointState(p.Problem, bsc, nsteps))
		if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
			t.Errorf("accuracy %d, per shot %v: <Jx,y>=%.15g <x,J'y>=%.15g rel %.2e", acc, perShot, lhs, rhs, rel)
		}
	})
}
