package scalar

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// testProblem builds a small padded grid with a PML of width pml on every
// edge, random positive c, and a few sources and receivers per shot.
func testProblem(acc, shots, ny, nx, pml int, rng *rand.Rand) *Problem[float64] {
	h := acc / 2
	p := &Problem[float64]{
		NShots: shots, NY: ny, NX: nx, Accuracy: acc,
		RDY: 1 / 1.5, RDX: 1 / 2.0,
		C:             make([]float64, ny*nx),
		StoreInterval: 1,
		NSources:      2, NReceivers: 3,
	}
	for i := range p.C {
		p.C[i] = 0.3 + 0.2*rng.Float64()
	}
	profile := func(n int) (a, b, db []float64) {
		a, b, db = make([]float64, n), make([]float64, n), make([]float64, n)
		for i := 0; i < n; i++ {
			d := max(h+pml-i, i-(n-1-h-pml))
			if d <= 0 {
				continue
			}
			frac := math.Min(float64(d)/float64(pml), 1)
			sigma, alpha := 3*frac*frac, 0.5*(1-frac)
			a[i] = math.Exp(-(sigma + alpha) * 0.1)
			b[i] = sigma / (sigma + alpha) * (a[i] - 1)
			db[i] = 0.3 * b[i] * float64(i%3-1)
		}
		return
	}
	p.AY, p.BY, p.DBY = profile(ny)
	p.AX, p.BX, p.DBX = profile(nx)
	pick := func(n int) []int64 {
		idx := make([]int64, shots*n)
		for s := 0; s < shots; s++ {
			perm := rng.Perm((ny - 2*h) * (nx - 2*h))
			for r := 0; r < n; r++ {
				y, x := h+perm[r]/(nx-2*h), h+perm[r]%(nx-2*h)
				idx[s*n+r] = int64(y*nx + x)
			}
		}
		return idx
	}
	p.SourceIndex, p.ReceiverIndex = pick(p.NSources), pick(p.NReceivers)
	p.SourceIndex[1] = -1 // an ignored source
	return p
}

func randomVec(n int, rng *rand.Rand) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// masked zeroes the entries where the profile pair (a, b) along the given
// axis is zero: PML fields there never influence anything.
func masked(v []float64, p *Problem[float64], alongY bool) []float64 {
	out := append([]float64(nil), v...)
	for i := range out {
		y, x := (i%(p.NY*p.NX))/p.NX, i%p.NX
		live := p.AX[x] != 0 || p.BX[x] != 0
		if alongY {
			live = p.AY[y] != 0 || p.BY[y] != 0
		}
		if !live {
			out[i] = 0
		}
	}
	return out
}

func interiorOnly(v []float64, p *Problem[float64]) []float64 {
	out := append([]float64(nil), v...)
	h := p.Halo()
	for i := range out {
		y, x := (i%(p.NY*p.NX))/p.NX, i%p.NX
		if y < h || y >= p.NY-h || x < h || x >= p.NX-h {
			out[i] = 0
		}
	}
	return out
}

type state struct{ u, up, psiY, psiX, zetaY, zetaX []float64 }

func (s state) vecs() [][]float64 { return [][]float64{s.u, s.up, s.psiY, s.psiX, s.zetaY, s.zetaX} }

func randomState(p *Problem[float64], rng *rand.Rand) state {
	n := p.NShots * p.NY * p.NX
	return state{
		u: interiorOnly(randomVec(n, rng), p), up: interiorOnly(randomVec(n, rng), p),
		psiY: interiorOnly(masked(randomVec(n, rng), p, true), p), psiX: interiorOnly(masked(randomVec(n, rng), p, false), p),
		zetaY: interiorOnly(masked(randomVec(n, rng), p, true), p), zetaX: interiorOnly(masked(randomVec(n, rng), p, false), p),
	}
}

func fieldsFrom(s state) *Fields[float64] {
	cp := func(v []float64) []float64 { return append([]float64(nil), v...) }
	z := func() []float64 { return make([]float64, len(s.u)) }
	return &Fields[float64]{
		U:     [2][]float64{cp(s.u), cp(s.up)},
		PsiY:  [2][]float64{cp(s.psiY), z()},
		PsiX:  [2][]float64{cp(s.psiX), z()},
		ZetaY: [2][]float64{cp(s.zetaY), z()},
		ZetaX: [2][]float64{cp(s.zetaX), z()},
	}
}

// current returns the state after nsteps: the roles swap each step.
func current(f *Fields[float64], nsteps int) state {
	a, b := nsteps%2, (nsteps+1)%2
	return state{f.U[a], f.U[b], f.PsiY[a], f.PsiX[a], f.ZetaY[a], f.ZetaX[a]}
}

// TestAdjointDotProduct runs with 1, 2 and 3 threads: the small grid's two
// shots run serially, or whole shots per thread; TestLargeGridSchedule
// covers the large-grid schedules.
func TestAdjointDotProduct(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, threads := range []int{1, 2, 3} {
		parallel.SetThreads(threads)
		testAdjointDotProduct(t)
	}
}

func testAdjointDotProduct(t *testing.T) {
	for _, acc := range []int{2, 4, 6, 8} {
		for _, nsteps := range []int{6, 7} {
			rng := rand.New(rand.NewPCG(uint64(acc), uint64(nsteps)))
			p := testProblem(acc, 2, 26, 30, 5, rng)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			x := randomState(p, rng)
			src := randomVec(nsteps*p.NShots*p.NSources, rng)
			fw := fieldsFrom(x)
			rec := make([]float64, nsteps*p.NShots*p.NReceivers)
			Forward(p, fw, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
			y := current(fw, nsteps)

			// Random adjoint of every output, then run the adjoint.
			ya := randomState(p, rng)
			ya.psiY, ya.zetaY = masked(ya.psiY, p, true), masked(ya.zetaY, p, true)
			ya.psiX, ya.zetaX = masked(ya.psiX, p, false), masked(ya.zetaX, p, false)
			reca := randomVec(len(rec), rng)
			scaled := state{make([]float64, len(ya.u)), make([]float64, len(ya.u)), ya.psiY, ya.psiX, ya.zetaY, ya.zetaX}
			for i := range ya.u {
				c := p.C[i%(p.NY*p.NX)]
				scaled.u[i], scaled.up[i] = c*ya.u[i], -c*ya.up[i]
			}
			bw := fieldsFrom(scaled)
			srca := make([]float64, len(src))
			Backward(p, bw, &Chunk[float64]{NSteps: nsteps, SourceAmp: srca, ReceiverAmp: reca})
			xa := current(bw, nsteps)
			for i := range xa.u {
				c := p.C[i%(p.NY*p.NX)]
				xa.u[i], xa.up[i] = xa.u[i]/c, -xa.up[i]/c
			}

			lhs := dot(rec, reca) // <F x, y_a>
			for k, v := range y.vecs() {
				lhs += dot(v, ya.vecs()[k])
			}
			rhs := dot(src, srca) // <x, F^T y_a>
			for k, v := range x.vecs() {
				rhs += dot(v, xa.vecs()[k])
			}
			if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
				t.Errorf("accuracy %d, %d steps: <Fx,y>=%.15g <x,F'y>=%.15g rel %.2e", acc, nsteps, lhs, rhs, rel)
			}
		}
	}
}

// TestModelGradient checks ∂(receiver·weights)/∂c from Backward against a
// central finite difference of Forward, at a few cells.
func TestModelGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := testProblem(4, 1, 22, 24, 4, rng)
	nsteps := 12
	src := randomVec(nsteps*p.NSources, rng)
	weights := randomVec(nsteps*p.NReceivers, rng)
	cells := p.NY * p.NX
	loss := func() float64 {
		f := fieldsFrom(state{make([]float64, cells), make([]float64, cells), make([]float64, cells), make([]float64, cells), make([]float64, cells), make([]float64, cells)})
		rec := make([]float64, nsteps*p.NReceivers)
		Forward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
		return dot(rec, weights)
	}
	z := func() []float64 { return make([]float64, cells) }
	f := fieldsFrom(state{z(), z(), z(), z(), z(), z()})
	rec := make([]float64, nsteps*p.NReceivers)
	store := make([]float64, nsteps*cells)
	Forward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec, Store: store})
	g := z()
	b := fieldsFrom(state{z(), z(), z(), z(), z(), z()})
	Backward(p, b, &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: weights, Store: store, GradC: g})
	for _, i := range []int{p.NX*3 + 5, p.NX*11 + 12, p.NX*17 + 20, int(p.ReceiverIndex[0])} {
		grad := g[i] / p.C[i]
		const eps = 1e-6
		c0 := p.C[i]
		p.C[i] = c0 + eps
		lp := loss()
		p.C[i] = c0 - eps
		lm := loss()
		p.C[i] = c0
		fd := (lp - lm) / (2 * eps)
		if math.Abs(fd-grad) > 1e-6*math.Max(1, math.Abs(fd)) {
			t.Errorf("cell %d: adjoint %.10g, finite difference %.10g", i, grad, fd)
		}
	}
}

// TestLargeGridSchedule checks the large-grid schedules against one
// thread, bit for bit: with 3 shots and 2 threads, two shots run one per
// thread and the third with its rows shared.
func TestLargeGridSchedule(t *testing.T) {
	defer parallel.SetThreads(0)
	rng := rand.New(rand.NewPCG(5, 5))
	p := testProblem(4, 3, 260, 262, 6, rng)
	parallel.SetThreads(2)
	if got := shotsTogether(p); got != 2 {
		t.Fatalf("3 shots on 2 threads: %d shots together, want 2", got)
	}
	const nsteps = 6
	run := func(threads int) ([]float64, []float64) {
		parallel.SetThreads(threads)
		f := fieldsFrom(randomState(p, rand.New(rand.NewPCG(1, 1))))
		rec := make([]float64, nsteps*p.NShots*p.NReceivers)
		src := randomVec(nsteps*p.NShots*p.NSources, rand.New(rand.NewPCG(2, 2)))
		store := make([]float64, nsteps*p.NShots*p.NY*p.NX)
		Forward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec, Store: store})
		g := make([]float64, p.NShots*p.NY*p.NX)
		Backward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: rec, Store: store, GradC: g})
		return append(rec, f.U[0]...), g
	}
	a, ga := run(1)
	b, gb := run(2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("state differs at %d: %g vs %g", i, a[i], b[i])
		}
	}
	for i := range ga {
		if ga[i] != gb[i] {
			t.Fatalf("gradient differs at %d: %g vs %g", i, ga[i], gb[i])
		}
	}
}

// TestChunkedStore runs the forward pass in chunks, each writing its
// snapshots into a buffer of its own (StoreFirst), and checks that they
// equal the snapshots of one call with the whole history.
func TestChunkedStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	p := testProblem(4, 2, 18, 20, 3, rng)
	p.StoreInterval = 2
	nsteps, cells := 16, p.NShots*p.NY*p.NX
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	s0 := randomState(p, rng)
	whole := make([]float64, (nsteps+1)/2*cells)
	Forward(p, fieldsFrom(s0), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers), Store: whole})

	f := fieldsFrom(s0)
	step := 0
	for _, count := range []int{5, 7, 4} {
		first, last := (step+1)/2, (step+count-1)/2
		store := make([]float64, (last-first+1)*cells)
		c := &Chunk[float64]{
			Step0: step, NSteps: count, Store: store, StoreFirst: first,
			SourceAmp:   src[step*p.NShots*p.NSources : (step+count)*p.NShots*p.NSources],
			ReceiverAmp: make([]float64, count*p.NShots*p.NReceivers),
		}
		if err := p.ValidateChunk(f, c, false); err != nil {
			t.Fatal(err)
		}
		Forward(p, f, c)
		for k := first; k <= last; k++ {
			got, want := store[(k-first)*cells:(k-first+1)*cells], whole[k*cells:(k+1)*cells]
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("snapshot %d differs at %d: %g, want %g", k, i, got[i], want[i])
				}
			}
		}
		if count%2 == 1 { // the current state moved to the other halves
			for _, pair := range []*[2][]float64{&f.U, &f.PsiY, &f.PsiX, &f.ZetaY, &f.ZetaX} {
				pair[0], pair[1] = pair[1], pair[0]
			}
		}
		step += count
	}
	bad := &Chunk[float64]{Step0: 4, NSteps: 2, Store: make([]float64, cells), StoreFirst: 3, SourceAmp: src[:2*p.NShots*p.NSources], ReceiverAmp: make([]float64, 2*p.NShots*p.NReceivers)}
	if err := p.ValidateChunk(f, bad, false); err == nil {
		t.Error("a store that starts after the chunk's first snapshot was accepted")
	}
}
