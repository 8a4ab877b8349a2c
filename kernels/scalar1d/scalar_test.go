package scalar1d

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// naiveStep is the step written out from the formula, cell by cell, with
// the weights spelled here: derivatives on the interior cells only, the
// full CPML formula everywhere, every field zero in the halo.
func naiveStep(p *Problem[float64], s state, src []float64, shot int) (next state, w []float64) {
	w1 := map[int][]float64{2: {0.5}, 4: {2.0 / 3, -1.0 / 12}, 6: {0.75, -0.15, 1.0 / 60}, 8: {0.8, -0.2, 4.0 / 105, -1.0 / 280}}[p.Accuracy]
	w2 := map[int][]float64{2: {-2, 1}, 4: {-2.5, 4.0 / 3, -1.0 / 12}, 6: {-49.0 / 18, 1.5, -0.15, 1.0 / 90},
		8: {-205.0 / 72, 1.6, -0.2, 8.0 / 315, -1.0 / 560}}[p.Accuracy]
	nx, h := p.NX, p.Halo()
	d1 := func(f []float64, x int) float64 {
		var v float64
		for k := 1; k <= h; k++ {
			v += w1[k-1] * (f[x+k] - f[x-k])
		}
		return v * p.RDX
	}
	d2 := func(f []float64, x int) float64 {
		v := w2[0] * f[x]
		for k := 1; k <= h; k++ {
			v += w2[k] * (f[x+k] + f[x-k])
		}
		return v * p.RDX * p.RDX
	}
	aPsi := make([]float64, nx)
	for x := range aPsi {
		aPsi[x] = p.AX[x] * s.psi[x]
	}
	next = state{make([]float64, nx), clone(s.u), make([]float64, nx), make([]float64, nx)}
	w = make([]float64, nx)
	c := p.modelOf(shot)
	for x := h; x < nx-h; x++ {
		a, b, db := p.AX[x], p.BX[x], p.DBX[x]
		tmp := (1+b)*d2(s.u, x) + db*d1(s.u, x) + d1(aPsi, x)
		w[x] = (1+b)*tmp + a*s.zeta[x]
		next.u[x] = c[x]*w[x] + 2*s.u[x] - s.up[x]
		next.psi[x] = b*d1(s.u, x) + a*s.psi[x]
		next.zeta[x] = b*tmp + a*s.zeta[x]
	}
	for r := 0; r < p.NSources; r++ {
		if i := p.SourceIndex[shot*p.NSources+r]; i >= 0 {
			next.u[i] += src[shot*p.NSources+r]
		}
	}
	return next, w
}

// shotState is one shot's part of s.
func shotState(s state, shot, nx int) state {
	v := func(f []float64) []float64 { return clone(f[shot*nx : (shot+1)*nx]) }
	return state{v(s.u), v(s.up), v(s.psi), v(s.zeta)}
}

// TestMatchesNaiveStep compares Forward, its receivers and its store with
// naiveStep, for every accuracy, with and without a model per shot.
func TestMatchesNaiveStep(t *testing.T) {
	for _, acc := range []int{2, 4, 6, 8} {
		for _, perShot := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(1, uint64(acc)))
			p := testProblem(acc, 2, 40, 6, perShot, rng)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			const nsteps = 9
			nx := p.NX
			x := randomState(p, rng)
			src := randomVec(nsteps*p.NShots*p.NSources, rng)
			f := fieldsFrom(x)
			rec := make([]float64, nsteps*p.NShots*p.NReceivers)
			store := make([]float64, nsteps*p.NShots*nx)
			c := &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec, Store: store}
			if err := p.ValidateChunk(f, c, false); err != nil {
				t.Fatal(err)
			}
			Forward(p, f, c)
			got := current(f, nsteps)
			for shot := 0; shot < p.NShots; shot++ {
				s := shotState(x, shot, nx)
				for n := 0; n < nsteps; n++ {
					for r := 0; r < p.NReceivers; r++ {
						j := shot*p.NReceivers + r
						if want := s.u[p.ReceiverIndex[j]]; math.Abs(rec[n*p.NShots*p.NReceivers+j]-want) > 1e-12*(1+math.Abs(want)) {
							t.Fatalf("accuracy %d, shot %d, step %d: receiver %d is %g, want %g", acc, shot, n, r, rec[n*p.NShots*p.NReceivers+j], want)
						}
					}
					var w []float64
					s, w = naiveStep(p, s, src[n*p.NShots*p.NSources:], shot)
					if d := relDiff(store[(n*p.NShots+shot)*nx:(n*p.NShots+shot+1)*nx], w); d > 1e-12 {
						t.Errorf("accuracy %d, per shot %v, shot %d, step %d: W differs by %.2e", acc, perShot, shot, n, d)
					}
				}
				for k, v := range got.vecs() {
					if d := relDiff(v[shot*nx:(shot+1)*nx], s.vecs()[k]); d > 1e-12 {
						t.Errorf("accuracy %d, per shot %v, shot %d: field %d differs from the naive step by %.2e", acc, perShot, shot, k, d)
					}
				}
			}
		}
	}
}

// TestAdjointDotProduct is <F x, y> = <x, F' y> for the map from (initial
// state, sources) to (final state, receivers), the forward and the
// backward each run in several chunks, with 1, 2 and 3 threads.
func TestAdjointDotProduct(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, threads := range []int{1, 2, 3} {
		parallel.SetThreads(threads)
		for _, acc := range []int{2, 4, 6, 8} {
			for _, nsteps := range []int{12, 13} {
				perShot := nsteps%2 == 1
				rng := rand.New(rand.NewPCG(uint64(acc), uint64(nsteps)))
				p := testProblem(acc, 3, 36, 5, perShot, rng)
				nsrc, nrec := p.NShots*p.NSources, p.NShots*p.NReceivers
				x := randomState(p, rng)
				src := randomVec(nsteps*nsrc, rng)
				rec := make([]float64, nsteps*nrec)
				f := fieldsFrom(x)
				for step := 0; step < nsteps; {
					count := min(1+step%5, nsteps-step)
					Forward(p, f, &Chunk[float64]{Step0: step, NSteps: count, SourceAmp: src[step*nsrc : (step+count)*nsrc],
						ReceiverAmp: rec[step*nrec : (step+count)*nrec]})
					swapIfOdd(count, f)
					step += count
				}
				y := current(f, 0)

				ya := randomState(p, rng)
				reca := randomVec(len(rec), rng)
				b := adjointFields(p, ya)
				srca := make([]float64, len(src))
				for end := nsteps; end > 0; {
					count := min(1+end%4, end)
					step := end - count
					c := &Chunk[float64]{Step0: step, NSteps: count, SourceAmp: srca[step*nsrc : end*nsrc], ReceiverAmp: reca[step*nrec : end*nrec]}
					if err := p.ValidateChunk(b, c, true); err != nil {
						t.Fatal(err)
					}
					Backward(p, b, c)
					swapIfOdd(count, b)
					end = step
				}
				xa := adjointState(p, b, 0)
				lhs := dot(rec, reca) + stateDot(y, ya)
				rhs := dot(src, srca) + stateDot(x, xa)
				if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
					t.Errorf("threads %d, accuracy %d, %d steps: <Fx,y>=%.15g <x,F'y>=%.15g rel %.2e", threads, acc, nsteps, lhs, rhs, rel)
				}
			}
		}
	}
}

// TestModelGradient checks ∂(receivers·weights)/∂c from Backward against a
// central finite difference of Forward, at cells in the interior, in the
// PML, at a receiver and at a source, with and without a model per shot.
func TestModelGradient(t *testing.T) {
	for _, perShot := range []bool{false, true} {
		for _, acc := range []int{4, 8} {
			rng := rand.New(rand.NewPCG(7, uint64(acc)))
			p := testProblem(acc, 2, 34, 5, perShot, rng)
			const nsteps = 20
			n := p.NShots * p.NX
			src := randomVec(nsteps*p.NShots*p.NSources, rng)
			weights := randomVec(nsteps*p.NShots*p.NReceivers, rng)
			x := randomState(p, rng)
			loss := func() float64 {
				rec := make([]float64, len(weights))
				Forward(p, fieldsFrom(x), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
				return dot(rec, weights)
			}
			store := make([]float64, nsteps*n)
			Forward(p, fieldsFrom(x), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, len(weights)), Store: store})
			g := make([]float64, n)
			Backward(p, fieldsFrom(zeroState(p)), &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)),
				ReceiverAmp: weights, Store: store, GradC: g})
			h := p.Halo()
			for _, i := range []int{h, h + 3, 17, 25, int(p.ReceiverIndex[0]), int(p.SourceIndex[0]), p.NX - h - 1} {
				grad := modelGradient(p, g, i)
				const eps = 1e-6
				c0 := p.C[i]
				p.C[i] = c0 + eps
				lp := loss()
				p.C[i] = c0 - eps
				lm := loss()
				p.C[i] = c0
				fd := (lp - lm) / (2 * eps)
				if math.Abs(fd-grad) > 1e-7*math.Max(1, math.Abs(fd)) {
					t.Errorf("accuracy %d, per shot %v, cell %d: adjoint %.10g, finite difference %.10g", acc, perShot, i, grad, fd)
				}
			}
		}
	}
}

// TestStoreInterval checks that a store every k steps accumulates exactly
// the stored steps' terms of the every-step gradient: the same gradient
// as a full store whose other snapshots are zero.
func TestStoreInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	p := testProblem(4, 2, 30, 4, false, rng)
	const nsteps, k = 17, 3
	n := p.NShots * p.NX
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	weights := randomVec(nsteps*p.NShots*p.NReceivers, rng)
	x := randomState(p, rng)
	full := make([]float64, nsteps*n)
	Forward(p, fieldsFrom(x), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, len(weights)), Store: full})
	p.StoreInterval = k
	sparse := make([]float64, (nsteps+k-1)/k*n)
	Forward(p, fieldsFrom(x), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, len(weights)), Store: sparse})
	for s := 0; s < nsteps; s++ {
		if s%k == 0 && !equal(sparse[s/k*n:(s/k+1)*n], full[s*n:(s+1)*n]) {
			t.Fatalf("snapshot of step %d differs from the full store's", s)
		}
		if s%k != 0 {
			clear(full[s*n : (s+1)*n])
		}
	}
	run := func(store []float64) []float64 {
		g := make([]float64, n)
		Backward(p, fieldsFrom(zeroState(p)), &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)),
			ReceiverAmp: weights, Store: store, GradC: g})
		return g
	}
	gs := run(sparse)
	p.StoreInterval = 1
	gf := run(full)
	if !equal(gs, gf) || maxAbs(gs) == 0 {
		t.Errorf("gradient with interval %d differs from the masked full store's by %.2e", k, relDiff(gs, gf))
	}
}

// TestChunkedStore runs the forward pass in chunks, each writing its
// snapshots into a buffer of its own (StoreFirst), and checks them and the
// receivers against one call with the whole history.
func TestChunkedStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	p := testProblem(4, 2, 30, 3, true, rng)
	p.StoreInterval = 2
	nsteps, cells := 16, p.NShots*p.NX
	nsrc, nrec := p.NShots*p.NSources, p.NShots*p.NReceivers
	src := randomVec(nsteps*nsrc, rng)
	s0 := randomState(p, rng)
	whole := make([]float64, (nsteps+1)/2*cells)
	wholeRec := make([]float64, nsteps*nrec)
	fw := fieldsFrom(s0)
	Forward(p, fw, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: wholeRec, Store: whole})

	f := fieldsFrom(s0)
	step := 0
	for _, count := range []int{5, 7, 4} {
		first, last := (step+1)/2, (step+count-1)/2
		store := make([]float64, (last-first+1)*cells)
		c := &Chunk[float64]{
			Step0: step, NSteps: count, Store: store, StoreFirst: first,
			SourceAmp: src[step*nsrc : (step+count)*nsrc], ReceiverAmp: make([]float64, count*nrec),
		}
		if err := p.ValidateChunk(f, c, false); err != nil {
			t.Fatal(err)
		}
		Forward(p, f, c)
		if !equal(store, whole[first*cells:(last+1)*cells]) {
			t.Errorf("chunk from step %d: snapshots differ from one call's", step)
		}
		if !equal(c.ReceiverAmp, wholeRec[step*nrec:(step+count)*nrec]) {
			t.Errorf("chunk from step %d: receivers differ from one call's", step)
		}
		swapIfOdd(count, f)
		step += count
	}
	for k, v := range current(f, 0).vecs() {
		if !equal(v, current(fw, nsteps).vecs()[k]) {
			t.Errorf("final field %d differs from one call's", k)
		}
	}
	bad := &Chunk[float64]{Step0: 4, NSteps: 2, Store: make([]float64, cells), StoreFirst: 3, SourceAmp: src[:2*nsrc], ReceiverAmp: make([]float64, 2*nrec)}
	if err := p.ValidateChunk(f, bad, false); err == nil {
		t.Error("a store that starts after the chunk's first snapshot was accepted")
	}
}

// TestFloat32MatchesFloat64 runs the same forward and backward in both
// precisions.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, acc := range []int{2, 4, 6, 8} {
		rng := rand.New(rand.NewPCG(3, uint64(acc)))
		p := testProblem(acc, 2, 61, 6, acc == 4, rng)
		const nsteps = 15
		n := p.NShots * p.NX
		x := randomState(p, rng)
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		weights := randomVec(nsteps*p.NShots*p.NReceivers, rng)
		ya := randomState(p, rng)

		f64 := fieldsFrom(x)
		rec64 := make([]float64, len(weights))
		store64 := make([]float64, nsteps*n)
		Forward(p, f64, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec64, Store: store64})
		g64 := make([]float64, n)
		b64 := adjointFields(p, ya)
		srcGrad64 := make([]float64, len(src))
		Backward(p, b64, &Chunk[float64]{NSteps: nsteps, SourceAmp: srcGrad64, ReceiverAmp: weights, Store: store64, GradC: g64})

		q := problem32(p)
		f32 := fields32(fieldsFrom(x))
		rec32 := make([]float32, len(weights))
		store32 := make([]float32, nsteps*n)
		Forward(q, f32, &Chunk[float32]{NSteps: nsteps, SourceAmp: toF32(src), ReceiverAmp: rec32, Store: store32})
		g32 := make([]float32, n)
		b32 := fields32(adjointFields(p, ya))
		srcGrad32 := make([]float32, len(src))
		Backward(q, b32, &Chunk[float32]{NSteps: nsteps, SourceAmp: srcGrad32, ReceiverAmp: toF32(weights), Store: store32, GradC: g32})

		for _, c := range []struct {
			name string
			a    []float32
			b    []float64
		}{
			{"receivers", rec32, rec64}, {"u", f32.U[1], f64.U[1]}, {"psix", f32.PsiX[1], f64.PsiX[1]},
			{"zetax", f32.ZetaX[1], f64.ZetaX[1]}, {"store", store32, store64},
			{"mu", b32.U[1], b64.U[1]}, {"adjoint psix", b32.PsiX[1], b64.PsiX[1]}, {"adjoint zetax", b32.ZetaX[1], b64.ZetaX[1]},
			{"grad c", g32, g64}, {"grad source", srcGrad32, srcGrad64},
		} {
			if d := maxRelDiff(c.a, c.b); d > 2e-5 || math.IsNaN(d) {
				t.Errorf("accuracy %d %s: float32 and float64 differ by %.2e (relative to max)", acc, c.name, d)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() (*Problem[float64], *Fields[float64], *Chunk[float64]) {
		p := testProblem(4, 2, 20, 3, false, rand.New(rand.NewPCG(1, 1)))
		const nsteps = 3
		n := p.NShots * p.NX
		return p, fieldsFrom(zeroState(p)), &Chunk[float64]{NSteps: nsteps,
			SourceAmp: make([]float64, nsteps*p.NShots*p.NSources), ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers),
			Store: make([]float64, nsteps*n), GradC: make([]float64, n)}
	}
	p, f, c := good()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := p.ValidateChunk(f, c, true); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit func(*Problem[float64], *Fields[float64], *Chunk[float64])
		want string
	}{
		"accuracy":       {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.Accuracy = 5 }, "accuracy"},
		"too small":      {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.NX = 4 }, "too small"},
		"no shots":       {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.NShots = 0 }, "too small"},
		"spacing":        {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.RDX = math.Inf(1) }, "spacing"},
		"nan spacing":    {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.RDX = math.NaN() }, "spacing"},
		"c":              {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.ModelPerShot = true }, "c has"},
		"profile":        {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.DBX = p.DBX[1:] }, "dbx"},
		"source in halo": {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.SourceIndex[0] = 1 }, "source index"},
		"receiver past": {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) {
			p.ReceiverIndex[0] = int64(p.NX - 2)
		}, "receiver index"},
		"index -2":  {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.ReceiverIndex[1] = -2 }, "receiver index"},
		"sources":   {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.NSources = 3 }, "source index"},
		"interval":  {func(p *Problem[float64], _ *Fields[float64], _ *Chunk[float64]) { p.StoreInterval = 0 }, "store interval"},
		"field":     {func(_ *Problem[float64], f *Fields[float64], _ *Chunk[float64]) { f.ZetaX[1] = nil }, "zetax[1]"},
		"steps":     {func(_ *Problem[float64], _ *Fields[float64], c *Chunk[float64]) { c.Step0 = -1 }, "step range"},
		"amplitude": {func(_ *Problem[float64], _ *Fields[float64], c *Chunk[float64]) { c.SourceAmp = c.SourceAmp[1:] }, "source amplitudes"},
		"receivers": {func(_ *Problem[float64], _ *Fields[float64], c *Chunk[float64]) { c.ReceiverAmp = nil }, "receiver amplitudes"},
		"store":     {func(_ *Problem[float64], _ *Fields[float64], c *Chunk[float64]) { c.Store = c.Store[1:] }, "store has"},
		"grad c":    {func(_ *Problem[float64], _ *Fields[float64], c *Chunk[float64]) { c.GradC = c.GradC[1:] }, "grad c"},
	} {
		p, f, c := good()
		tc.edit(p, f, c)
		err := p.Validate()
		if err == nil {
			err = p.ValidateChunk(f, c, true)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}
