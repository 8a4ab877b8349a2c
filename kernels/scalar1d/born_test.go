package scalar1d

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// bornTestProblem extends testProblem with a random perturbation dc
// (non-zero in the halo too, where it must be ignored), and four
// scattered receivers per shot, one ignored.
func bornTestProblem(acc, shots, nx, pml int, perShot bool, rng *rand.Rand) *BornProblem[float64] {
	p := testProblem(acc, shots, nx, pml, perShot, rng)
	b := &BornProblem[float64]{Problem: p, DC: make([]float64, len(p.C)), NScatteredReceivers: 4}
	for i := range b.DC {
		b.DC[i] = 0.05 * rng.NormFloat64()
	}
	b.ScatteredReceiverIndex = pick(p, b.NScatteredReceivers, rng)
	b.ScatteredReceiverIndex[2] = -1
	if err := b.Validate(); err != nil {
		panic(err)
	}
	return b
}

func randomAdjointState(p *Problem[float64], rng *rand.Rand) state { return randomState(p, rng) }

// bornForward runs BornForward from the given states in one chunk,
// storing W(u) and W(δu) at every step.
func bornForward(p *BornProblem[float64], x, xsc state, src, ssc []float64, nsteps int) (f, fsc *Fields[float64], c *BornChunk[float64]) {
	n := p.NShots * p.NX
	f, fsc = fieldsFrom(x), fieldsFrom(xsc)
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

func eachBornCase(t *testing.T, fn func(t *testing.T, acc int, perShot bool)) {
	for _, acc := range []int{2, 4, 8} {
		for _, perShot := range []bool{false, true} {
			fn(t, acc, perShot)
		}
	}
}

// TestBornLinearisation checks the scattered receivers and final state
// against a central finite difference of Forward in c, the sources and the
// initial state, and the background against Forward itself.
func TestBornLinearisation(t *testing.T) {
	eachBornCase(t, func(t *testing.T, acc int, perShot bool) {
		rng := rand.New(rand.NewPCG(11, uint64(acc)))
		p := bornTestProblem(acc, 2, 40, 5, perShot, rng)
		const nsteps = 40
		x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		ssc := randomVec(len(src), rng)
		f, fsc, c := bornForward(p, x, xsc, src, ssc, nsteps)

		plain := fieldsFrom(x)
		rec := make([]float64, len(c.ReceiverAmp))
		Forward(p.Problem, plain, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
		for k, v := range current(plain, nsteps).vecs() {
			if !equal(v, current(f, nsteps).vecs()[k]) {
				t.Errorf("accuracy %d: background state %d differs from Forward", acc, k)
			}
		}
		if !equal(rec, c.ReceiverAmp) {
			t.Errorf("accuracy %d: background receivers differ from Forward", acc)
		}

		// The perturbed runs record δu's receivers with the background's
		// receiver positions.
		const eps = 1e-6
		run := func(sign float64) ([]float64, state) {
			q := *p.Problem
			q.C = axpy(p.C, sign*eps, p.DC)
			q.ReceiverIndex, q.NReceivers = p.ScatteredReceiverIndex, p.NScatteredReceivers
			var xs state
			for k, v := range []*[]float64{&xs.u, &xs.up, &xs.psi, &xs.zeta} {
				*v = axpy(x.vecs()[k], sign*eps, xsc.vecs()[k])
			}
			ff := fieldsFrom(xs)
			r := make([]float64, len(c.ScatteredReceiverAmp))
			Forward(&q, ff, &Chunk[float64]{NSteps: nsteps, SourceAmp: axpy(src, sign*eps, ssc), ReceiverAmp: r})
			return r, current(ff, nsteps)
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
		if d := relDiff(c.ScatteredReceiverAmp, fd(rp, rm)); d > 1e-7 {
			t.Errorf("accuracy %d, per shot %v: scattered receivers differ from the finite difference by %.2e", acc, perShot, d)
		}
		for k, v := range current(fsc, nsteps).vecs() {
			if d := relDiff(v, fd(sp.vecs()[k], sm.vecs()[k])); d > 1e-7 {
				t.Errorf("accuracy %d, per shot %v: scattered state %d differs from the finite difference by %.2e", acc, perShot, k, d)
			}
		}
	})
}

// TestBornAdjoint runs with 1, 2 and 3 threads.
func TestBornAdjoint(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, threads := range []int{1, 2, 3} {
		parallel.SetThreads(threads)
		eachBornCase(t, testBornScatteredAdjoint)
		eachBornCase(t, testBornJointAdjoint)
	}
}

// testBornScatteredAdjoint is the dot-product test of the map from
// (δu's initial state, dc, scattered sources) to (scattered receivers,
// δu's final state) for a fixed background, with and without the
// background adjoint: it checks GradDC.
func testBornScatteredAdjoint(t *testing.T, acc int, perShot bool) {
	rng := rand.New(rand.NewPCG(12, uint64(acc)))
	p := bornTestProblem(acc, 3, 36, 5, perShot, rng)
	const nsteps = 25
	n := p.NShots * p.NX
	x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := randomVec(len(src), rng)
	_, fsc, fc := bornForward(p, x, xsc, src, ssc, nsteps)
	ya := randomAdjointState(p.Problem, rng)
	reca := randomVec(len(fc.ScatteredReceiverAmp), rng)
	lhs := dot(fc.ScatteredReceiverAmp, reca) + stateDot(current(fsc, nsteps), ya)

	var first []float64
	for _, adjointBg := range []bool{false, true} {
		c := &BornChunk[float64]{
			Chunk:              Chunk[float64]{NSteps: nsteps, Store: fc.Store},
			ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: reca,
			GradDC: make([]float64, n), AdjointBackground: adjointBg,
		}
		var f *Fields[float64]
		if adjointBg {
			f = fieldsFrom(zeroState(p.Problem))
			c.SourceAmp, c.ReceiverAmp = make([]float64, len(src)), make([]float64, len(fc.ReceiverAmp))
		}
		b := adjointFields(p.Problem, ya)
		if err := p.ValidateChunk(f, b, c, true); err != nil {
			t.Fatal(err)
		}
		BornBackward(p, f, b, c)
		xa := adjointState(p.Problem, b, nsteps)
		rhs := dot(ssc, c.ScatteredSourceAmp) + stateDot(xsc, xa) + modelDot(p.Problem, p.DC, c.GradDC)
		if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
			t.Errorf("accuracy %d, per shot %v, background adjoint %v: <Jx,y>=%.15g <x,J'y>=%.15g rel %.2e",
				acc, perShot, adjointBg, lhs, rhs, rel)
		}
		out := append(append(clone(c.GradDC), c.ScatteredSourceAmp...), xa.u...)
		if first == nil {
			first = out
		} else if !equal(first, out) {
			t.Errorf("accuracy %d, per shot %v: the scattered adjoint depends on the background adjoint", acc, perShot)
		}
	}
}

// testBornJointAdjoint is the dot-product test of the map from (both
// initial states, both sources) to (both receivers, both final states)
// for a fixed dc: it exercises the coupling in the background adjoint.
func testBornJointAdjoint(t *testing.T, acc int, perShot bool) {
	rng := rand.New(rand.NewPCG(13, uint64(acc)))
	p := bornTestProblem(acc, 3, 36, 5, perShot, rng)
	const nsteps = 25
	x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := randomVec(len(src), rng)
	f, fsc, fc := bornForward(p, x, xsc, src, ssc, nsteps)
	ya, yasc := randomAdjointState(p.Problem, rng), randomAdjointState(p.Problem, rng)
	reca, recasc := randomVec(len(fc.ReceiverAmp), rng), randomVec(len(fc.ScatteredReceiverAmp), rng)
	lhs := dot(fc.ReceiverAmp, reca) + dot(fc.ScatteredReceiverAmp, recasc) +
		stateDot(current(f, nsteps), ya) + stateDot(current(fsc, nsteps), yasc)

	c := &BornChunk[float64]{
		Chunk:              Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: reca},
		ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: recasc,
		AdjointBackground: true,
	}
	b, bsc := adjointFields(p.Problem, ya), adjointFields(p.Problem, yasc)
	BornBackward(p, b, bsc, c)
	rhs := dot(src, c.SourceAmp) + dot(ssc, c.ScatteredSourceAmp) +
		stateDot(x, adjointState(p.Problem, b, nsteps)) + stateDot(xsc, adjointState(p.Problem, bsc, nsteps))
	if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
		t.Errorf("accuracy %d, per shot %v: <Jx,y>=%.15g <x,J'y>=%.15g rel %.2e", acc, perShot, lhs, rhs, rel)
	}
}

// TestBornModelGradient checks GradC against a central finite difference
// in c of a loss on both receivers, at a few cells (interior, PML band,
// receiver, source), GradDC against one in dc, and the background source
// gradient against a directional finite difference in the sources.
func TestBornModelGradient(t *testing.T) {
	eachBornCase(t, func(t *testing.T, acc int, perShot bool) {
		rng := rand.New(rand.NewPCG(14, uint64(acc)))
		p := bornTestProblem(acc, 2, 36, 5, perShot, rng)
		const nsteps = 30
		n := p.NShots * p.NX
		x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		ssc := randomVec(len(src), rng)
		y, ysc := randomVec(nsteps*p.NShots*p.NReceivers, rng), randomVec(nsteps*p.NShots*p.NScatteredReceivers, rng)
		loss := func(src []float64) float64 {
			_, _, c := bornForward(p, x, xsc, src, ssc, nsteps)
			return dot(y, c.ReceiverAmp) + dot(ysc, c.ScatteredReceiverAmp)
		}
		_, _, fc := bornForward(p, x, xsc, src, ssc, nsteps)
		c := &BornChunk[float64]{
			Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: y,
				Store: fc.Store, GradC: make([]float64, n)},
			ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: ysc,
			ScatteredStore: fc.ScatteredStore, GradDC: make([]float64, n), AdjointBackground: true,
		}
		if err := p.ValidateChunk(fieldsFrom(zeroState(p.Problem)), fieldsFrom(zeroState(p.Problem)), c, true); err != nil {
			t.Fatal(err)
		}
		BornBackward(p, fieldsFrom(zeroState(p.Problem)), fieldsFrom(zeroState(p.Problem)), c)

		const eps = 1e-6
		h := p.Halo()
		for _, i := range []int{h + 1, 9, 18, 27, int(p.ScatteredReceiverIndex[0]), int(p.SourceIndex[0])} {
			for _, m := range []struct {
				name string
				v    []float64
				g    []float64
			}{{"c", p.C, c.GradC}, {"dc", p.DC, c.GradDC}} {
				grad := modelGradient(p.Problem, m.g, i)
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

		ds := randomVec(len(src), rng)
		fd, grad := (loss(axpy(src, eps, ds))-loss(axpy(src, -eps, ds)))/(2*eps), dot(ds, c.SourceAmp)
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
	p := bornTestProblem(4, 2, 36, 4, true, rng)
	p.StoreInterval = 2
	const nsteps = 16
	n := p.NShots * p.NX
	x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := randomVec(len(src), rng)
	y, ysc := randomVec(nsteps*p.NShots*p.NReceivers, rng), randomVec(nsteps*p.NShots*p.NScatteredReceivers, rng)
	ya, yasc := randomAdjointState(p.Problem, rng), randomAdjointState(p.Problem, rng)
	nsrc, nrec, nrsc := p.NShots*p.NSources, p.NShots*p.NReceivers, p.NShots*p.NScatteredReceivers

	type outputs struct{ fwd, fwdSc, store, storeSc, bwd []float64 }
	run := func(counts []int) outputs {
		var o outputs
		f, fsc := fieldsFrom(x), fieldsFrom(xsc)
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
			swapIfOdd(count, f, fsc)
			chunks = append(chunks, k)
			step += count
		}
		o.fwdSc = append(append(o.fwdSc, f.U[0]...), fsc.ZetaX[0]...)

		b, bsc := adjointFields(p.Problem, ya), adjointFields(p.Problem, yasc)
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
			swapIfOdd(k.count, b, bsc)
		}
		o.bwd = append(append(append(append(append(append(o.bwd, gc...), gdc...), gs...), gssc...), b.U[0]...), bsc.PsiX[0]...)
		return o
	}
	whole, chunked := run([]int{nsteps}), run([]int{5, 7, 4})
	if !equal(whole.fwd, chunked.fwd) || !equal(whole.fwdSc, chunked.fwdSc) {
		t.Error("chunked forward differs from one call")
	}
	if !equal(whole.store, chunked.store) || !equal(whole.storeSc, chunked.storeSc) {
		t.Error("chunked stores differ from one call's")
	}
	if !equal(whole.bwd, chunked.bwd) {
		t.Error("chunked backward differs from one call")
	}
	if maxAbs(whole.bwd) == 0 {
		t.Error("the backward outputs are all zero")
	}
}

// TestBornFloat32 runs the float32 kernels through Born forward and
// backward and compares with float64.
func TestBornFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	p := bornTestProblem(8, 2, 45, 5, false, rng)
	const nsteps = 12
	n := p.NShots * p.NX
	x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	ssc := randomVec(len(src), rng)
	f, fsc, fc := bornForward(p, x, xsc, src, ssc, nsteps)
	c := &BornChunk[float64]{
		Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: fc.ReceiverAmp,
			Store: fc.Store, GradC: make([]float64, n)},
		ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: fc.ScatteredReceiverAmp,
		ScatteredStore: fc.ScatteredStore, GradDC: make([]float64, n), AdjointBackground: true,
	}
	BornBackward(p, f, fsc, c)

	q := &BornProblem[float32]{Problem: problem32(p.Problem), DC: toF32(p.DC),
		ScatteredReceiverIndex: p.ScatteredReceiverIndex, NScatteredReceivers: p.NScatteredReceivers}
	f32, fsc32 := fields32(fieldsFrom(x)), fields32(fieldsFrom(xsc))
	c32 := &BornChunk[float32]{
		Chunk: Chunk[float32]{NSteps: nsteps, SourceAmp: toF32(src), ReceiverAmp: make([]float32, len(fc.ReceiverAmp)),
			Store: make([]float32, nsteps*n)},
		ScatteredSourceAmp: toF32(ssc), ScatteredReceiverAmp: make([]float32, len(fc.ScatteredReceiverAmp)),
		ScatteredStore: make([]float32, nsteps*n),
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
	} {
		if d := maxRelDiff(k.a, k.b); d > 2e-5 || math.IsNaN(d) {
			t.Errorf("%s: float32 and float64 differ by %.2e (relative to max)", k.name, d)
		}
	}
}

func TestBornValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 18))
	good := func() (*BornProblem[float64], *Fields[float64], *Fields[float64], *BornChunk[float64]) {
		p := bornTestProblem(4, 2, 30, 4, false, rng)
		const nsteps = 3
		n := p.NShots * p.NX
		c := &BornChunk[float64]{
			Chunk: Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, nsteps*p.NShots*p.NSources),
				ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers), Store: make([]float64, nsteps*n), GradC: make([]float64, n)},
			ScatteredSourceAmp: make([]float64, nsteps*p.NShots*p.NSources), ScatteredReceiverAmp: make([]float64, nsteps*p.NShots*p.NScatteredReceivers),
			ScatteredStore: make([]float64, nsteps*n), GradDC: make([]float64, n), AdjointBackground: true,
		}
		return p, fieldsFrom(zeroState(p.Problem)), fieldsFrom(zeroState(p.Problem)), c
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
		"background":      {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) { p.Accuracy = 3 }, false, "accuracy"},
		"coupling":        {func(p *BornProblem[float64], _, _ *Fields[float64], _ *BornChunk[float64]) { p.CouplingInterval = -1 }, false, "coupling"},
		"scattered field": {func(_ *BornProblem[float64], _, fsc *Fields[float64], _ *BornChunk[float64]) { fsc.ZetaX[1] = nil }, false, "zetax_sc[1]"},
		"no scattered": {func(_ *BornProblem[float64], _, fsc *Fields[float64], _ *BornChunk[float64]) {
			*fsc = Fields[float64]{}
		}, false, "u_sc[0]"},
		"background field": {func(_ *BornProblem[float64], f, _ *Fields[float64], _ *BornChunk[float64]) { f.U[0] = f.U[0][1:] }, false, "u[0]"},
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
}

// TestBornCouplingInterval checks a coupling every k steps against
// single steps whose dc is k·dc on coupled steps and zero otherwise, and
// the background adjoint of such a run by the dot-product test.
func TestBornCouplingInterval(t *testing.T) {
	eachBornCase(t, func(t *testing.T, acc int, perShot bool) {
		const k, nsteps = 3, 16
		rng := rand.New(rand.NewPCG(21, uint64(acc)))
		p := bornTestProblem(acc, 2, 36, 4, perShot, rng)
		x, xsc := randomState(p.Problem, rng), randomState(p.Problem, rng)
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		ssc := randomVec(len(src), rng)

		p.CouplingInterval = k
		f, fsc, fc := bornForward(p, x, xsc, src, ssc, nsteps)

		dc := p.DC
		p.CouplingInterval = 0
		want, g := fieldsFrom(xsc), fieldsFrom(x)
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
			swapIfOdd(1, g, want)
			rec = append(rec, one.ScatteredReceiverAmp...)
		}
		p.DC, p.CouplingInterval = dc, k
		if d := relDiff(rec, fc.ScatteredReceiverAmp); d > 1e-12 {
			t.Errorf("accuracy %d, per shot %v: scattered receivers differ by %.2e", acc, perShot, d)
		}
		if d := relDiff(current(want, 0).u, current(fsc, nsteps).u); d > 1e-12 {
			t.Errorf("accuracy %d, per shot %v: scattered field differs by %.2e", acc, perShot, d)
		}

		ya, yasc := randomAdjointState(p.Problem, rng), randomAdjointState(p.Problem, rng)
		reca, recasc := randomVec(len(fc.ReceiverAmp), rng), randomVec(len(fc.ScatteredReceiverAmp), rng)
		lhs := dot(fc.ReceiverAmp, reca) + dot(fc.ScatteredReceiverAmp, recasc) +
			stateDot(current(f, nsteps), ya) + stateDot(current(fsc, nsteps), yasc)
		c := &BornChunk[float64]{
			Chunk:              Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: reca},
			ScatteredSourceAmp: make([]float64, len(ssc)), ScatteredReceiverAmp: recasc,
			AdjointBackground: true,
		}
		b, bsc := adjointFields(p.Problem, ya), adjointFields(p.Problem, yasc)
		BornBackward(p, b, bsc, c)
		rhs := dot(src, c.SourceAmp) + dot(ssc, c.ScatteredSourceAmp) +
			stateDot(x, adjointState(p.Problem, b, nsteps)) + stateDot(xsc, adjointState(p.Problem, bsc, nsteps))
		if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
			t.Errorf("accuracy %d, per shot %v: <Jx,y>=%.15g <x,J'y>=%.15g rel %.2e", acc, perShot, lhs, rhs, rel)
		}
	})
}
