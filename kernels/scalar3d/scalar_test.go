package scalar3d

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// testProblem builds a small padded grid with a PML of width pml on every
// face, random positive c, and a few sources and receivers per shot.
func testProblem(acc, shots, nz, ny, nx, pml int, rng *rand.Rand) *Problem[float64] {
	h := acc / 2
	p := &Problem[float64]{
		NShots: shots, NZ: nz, NY: ny, NX: nx, Accuracy: acc,
		RDZ: 1 / 1.2, RDY: 1 / 1.5, RDX: 1 / 2.0,
		C:             make([]float64, nz*ny*nx),
		StoreInterval: 1,
		NSources:      2, NReceivers: 3,
	}
	for i := range p.C {
		p.C[i] = 0.1 + 0.1*rng.Float64()
	}
	profile := func(n int) (a, b, db []float64) {
		a, b, db = make([]float64, n), make([]float64, n), make([]float64, n)
		for i := 0; i < n; i++ {
			d := max(h+pml-i, i-(n-1-h-pml))
			if d <= 0 || pml == 0 {
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
	p.AZ, p.BZ, p.DBZ = profile(nz)
	p.AY, p.BY, p.DBY = profile(ny)
	p.AX, p.BX, p.DBX = profile(nx)
	pick := func(n int) []int64 {
		idx := make([]int64, shots*n)
		for s := 0; s < shots; s++ {
			for r := 0; r < n; r++ {
				z, y, x := h+rng.IntN(nz-2*h), h+rng.IntN(ny-2*h), h+rng.IntN(nx-2*h)
				idx[s*n+r] = int64((z*ny+y)*nx + x)
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

// coords returns cell i's coordinates (z, y, x) within its shot.
func coords(p *Problem[float64], i int) [3]int {
	i %= p.Cells()
	return [3]int{i / (p.NY * p.NX), i / p.NX % p.NY, i % p.NX}
}

// masked zeroes the entries where axis a's profile pair (a, b) is zero:
// PML fields there never influence anything.
func masked(v []float64, p *Problem[float64], axis int) []float64 {
	out := append([]float64(nil), v...)
	pa, pb := [3][]float64{p.AZ, p.AY, p.AX}[axis], [3][]float64{p.BZ, p.BY, p.BX}[axis]
	for i := range out {
		j := coords(p, i)[axis]
		if pa[j] == 0 && pb[j] == 0 {
			out[i] = 0
		}
	}
	return out
}

func interiorOnly(v []float64, p *Problem[float64]) []float64 {
	out := append([]float64(nil), v...)
	h, n := p.Halo(), [3]int{p.NZ, p.NY, p.NX}
	for i := range out {
		for a, c := range coords(p, i) {
			if c < h || c >= n[a]-h {
				out[i] = 0
			}
		}
	}
	return out
}

type state struct {
	u, up     []float64
	psi, zeta [3][]float64
}

func (s state) vecs() [][]float64 {
	return [][]float64{s.u, s.up, s.psi[0], s.psi[1], s.psi[2], s.zeta[0], s.zeta[1], s.zeta[2]}
}

func randomState(p *Problem[float64], rng *rand.Rand) state {
	n := p.NShots * p.Cells()
	s := state{u: interiorOnly(randomVec(n, rng), p), up: interiorOnly(randomVec(n, rng), p)}
	for a := range 3 {
		s.psi[a] = interiorOnly(masked(randomVec(n, rng), p, a), p)
		s.zeta[a] = interiorOnly(masked(randomVec(n, rng), p, a), p)
	}
	return s
}

func fieldsFrom(s state) *Fields[float64] {
	cp := func(v []float64) []float64 { return append([]float64(nil), v...) }
	pair := func(v []float64) [2][]float64 { return [2][]float64{cp(v), make([]float64, len(v))} }
	return &Fields[float64]{
		U:    [2][]float64{cp(s.u), cp(s.up)},
		PsiZ: pair(s.psi[0]), PsiY: pair(s.psi[1]), PsiX: pair(s.psi[2]),
		ZetaZ: pair(s.zeta[0]), ZetaY: pair(s.zeta[1]), ZetaX: pair(s.zeta[2]),
	}
}

// current returns the state after nsteps: the roles swap each step.
func current(f *Fields[float64], nsteps int) state {
	a, b := nsteps%2, (nsteps+1)%2
	return state{u: f.U[a], up: f.U[b],
		psi:  [3][]float64{f.PsiZ[a], f.PsiY[a], f.PsiX[a]},
		zeta: [3][]float64{f.ZetaZ[a], f.ZetaY[a], f.ZetaX[a]}}
}

// swapPairs swaps every pair of f, so that after an odd-length chunk the
// current state is element 0 again.
func swapPairs[T Float](f *Fields[T]) {
	for _, pair := range []*[2][]T{&f.U, &f.PsiZ, &f.PsiY, &f.PsiX, &f.ZetaZ, &f.ZetaY, &f.ZetaX} {
		pair[0], pair[1] = pair[1], pair[0]
	}
}

// naiveStep is one forward step written out plainly: the CPML formula on
// every interior cell of every shot and axis. It returns the next state,
// the receivers read from x, and W.
func naiveStep(p *Problem[float64], x state, src []float64) (state, []float64, []float64) {
	h, cells := p.Halo(), p.Cells()
	n := p.NShots * cells
	dims := [3]int{p.NZ, p.NY, p.NX}
	strides := [3]int{p.NY * p.NX, p.NX, 1}
	rd := [3]float64{p.RDZ, p.RDY, p.RDX}
	prof := [3][3][]float64{{p.AZ, p.BZ, p.DBZ}, {p.AY, p.BY, p.DBY}, {p.AX, p.BX, p.DBX}}
	d1, d2 := firstDeriv[p.Accuracy], secondDeriv[p.Accuracy]
	y := state{u: make([]float64, n), up: append([]float64(nil), x.u...)}
	for a := range 3 {
		y.psi[a], y.zeta[a] = make([]float64, n), make([]float64, n)
	}
	w := make([]float64, n)
	for i := 0; i < n; i++ {
		cz := coords(p, i)
		inside := true
		for a := range 3 {
			inside = inside && cz[a] >= h && cz[a] < dims[a]-h
		}
		if !inside {
			continue
		}
		var W float64
		for a := range 3 {
			j, st := cz[a], strides[a]
			pa, pb, pdb := prof[a][0], prof[a][1], prof[a][2]
			ud, udd, dpsi := 0.0, secondDerivCentre[p.Accuracy]*rd[a]*rd[a]*x.u[i], 0.0
			for k := 1; k <= h; k++ {
				ud += d1[k-1] * rd[a] * (x.u[i+k*st] - x.u[i-k*st])
				udd += d2[k-1] * rd[a] * rd[a] * (x.u[i+k*st] + x.u[i-k*st])
				dpsi += d1[k-1] * rd[a] * (pa[j+k]*x.psi[a][i+k*st] - pa[j-k]*x.psi[a][i-k*st])
			}
			tmp := (1+pb[j])*udd + pdb[j]*ud + dpsi
			W += (1+pb[j])*tmp + pa[j]*x.zeta[a][i]
			y.psi[a][i] = pb[j]*ud + pa[j]*x.psi[a][i]
			y.zeta[a][i] = pb[j]*tmp + pa[j]*x.zeta[a][i]
		}
		c := p.ModelOf(i / cells)[i%cells]
		y.u[i] = c*W + 2*x.u[i] - x.up[i]
		w[i] = W
	}
	rec := make([]float64, p.NShots*p.NReceivers)
	for j, idx := range p.ReceiverIndex {
		if idx >= 0 {
			rec[j] = x.u[j/p.NReceivers*cells+int(idx)]
		}
	}
	for j, idx := range p.SourceIndex {
		if idx >= 0 {
			y.u[j/p.NSources*cells+int(idx)] += src[j]
		}
	}
	return y, rec, w
}

func closeTo(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol*math.Max(scale, 1e-300) {
			t.Fatalf("%s differs at %d (%v): %.15g, want %.15g", what, i, i, got[i], want[i])
		}
	}
}

// TestAgainstNaive compares Forward, with a store, against naiveStep.
func TestAgainstNaive(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, acc := range []int{2, 4, 6, 8} {
		for _, threads := range []int{1, 2} {
			parallel.SetThreads(threads)
			rng := rand.New(rand.NewPCG(uint64(acc), 11))
			p := testProblem(acc, 2, 14+acc, 15+acc, 21+acc, 3, rng)
			p.ModelPerShot = acc == 6
			if p.ModelPerShot {
				p.C = append(p.C, p.C...)
				for i := range p.C[:p.Cells()] {
					p.C[i] *= 1.3
				}
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			const nsteps = 5
			x := randomState(p, rng)
			src := randomVec(nsteps*p.NShots*p.NSources, rng)
			f := fieldsFrom(x)
			rec := make([]float64, nsteps*p.NShots*p.NReceivers)
			store := make([]float64, nsteps*p.NShots*p.Cells())
			c := &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec, Store: store}
			if err := p.ValidateChunk(f, c, false); err != nil {
				t.Fatal(err)
			}
			Forward(p, f, c)
			want := x
			for step := 0; step < nsteps; step++ {
				var r, w []float64
				want, r, w = naiveStep(p, want, src[step*p.NShots*p.NSources:])
				closeTo(t, "receivers", rec[step*len(r):(step+1)*len(r)], r, 1e-12)
				closeTo(t, "W", store[step*len(w):(step+1)*len(w)], w, 1e-12)
			}
			got := current(f, nsteps)
			for k, v := range want.vecs() {
				closeTo(t, []string{"u", "u_prev", "psiz", "psiy", "psix", "zetaz", "zetay", "zetax"}[k], got.vecs()[k], v, 1e-12)
			}
		}
	}
}

// TestAdjointDotProduct checks <F x, y> = <x, F' y> for the whole state
// and the amplitudes, the steps split into chunks, with 1 and 2 threads.
func TestAdjointDotProduct(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, threads := range []int{1, 2} {
		parallel.SetThreads(threads)
		for _, acc := range []int{2, 4, 6, 8} {
			testAdjointDotProduct(t, acc, acc == 4)
		}
	}
}

func testAdjointDotProduct(t *testing.T, acc int, perShot bool) {
	chunks := []int{3, 4}
	nsteps := 7
	rng := rand.New(rand.NewPCG(uint64(acc), uint64(nsteps)))
	p := testProblem(acc, 2, 13+acc, 14+acc, 17+acc, 3, rng)
	if perShot {
		p.ModelPerShot = true
		p.C = append(p.C, p.C...)
		for i := range p.C[:p.Cells()] {
			p.C[i] *= 0.7
		}
	}
	cOf := func(i int) float64 { return p.ModelOf(i / p.Cells())[i%p.Cells()] }
	x := randomState(p, rng)
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	fw := fieldsFrom(x)
	rec := make([]float64, nsteps*p.NShots*p.NReceivers)
	ns, nr := p.NShots*p.NSources, p.NShots*p.NReceivers
	step := 0
	for _, k := range chunks {
		Forward(p, fw, &Chunk[float64]{Step0: step, NSteps: k, SourceAmp: src[step*ns : (step+k)*ns], ReceiverAmp: rec[step*nr : (step+k)*nr]})
		if k%2 == 1 {
			swapPairs(fw)
		}
		step += k
	}
	y := current(fw, 0)

	ya := randomState(p, rng)
	reca := randomVec(len(rec), rng)
	scaled := ya
	scaled.u, scaled.up = make([]float64, len(ya.u)), make([]float64, len(ya.u))
	for i := range ya.u {
		scaled.u[i], scaled.up[i] = cOf(i)*ya.u[i], -cOf(i)*ya.up[i]
	}
	bw := fieldsFrom(scaled)
	srca := make([]float64, len(src))
	for m := len(chunks) - 1; m >= 0; m-- {
		k := chunks[m]
		step -= k
		Backward(p, bw, &Chunk[float64]{Step0: step, NSteps: k, SourceAmp: srca[step*ns : (step+k)*ns], ReceiverAmp: reca[step*nr : (step+k)*nr]})
		if k%2 == 1 {
			swapPairs(bw)
		}
	}
	xa := current(bw, 0)
	for i := range xa.u {
		xa.u[i], xa.up[i] = xa.u[i]/cOf(i), -xa.up[i]/cOf(i)
	}
	lhs := dot(rec, reca)
	for k, v := range y.vecs() {
		lhs += dot(v, ya.vecs()[k])
	}
	rhs := dot(src, srca)
	for k, v := range x.vecs() {
		rhs += dot(v, xa.vecs()[k])
	}
	if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-12 {
		t.Errorf("accuracy %d, per-shot %v: <Fx,y>=%.15g <x,F'y>=%.15g rel %.2e", acc, perShot, lhs, rhs, rel)
	}
}

// gradientRun runs a forward pass with a store from zero, then the
// backward pass with weights as the receiver gradient, and returns GradC.
func gradientRun(p *Problem[float64], src, weights []float64, nsteps int, zeroOdd bool) []float64 {
	n := p.NShots * p.Cells()
	z := func() []float64 { return make([]float64, n) }
	zs := state{u: z(), up: z(), psi: [3][]float64{z(), z(), z()}, zeta: [3][]float64{z(), z(), z()}}
	nstore := (nsteps + p.StoreInterval - 1) / p.StoreInterval
	store := make([]float64, nstore*n)
	Forward(p, fieldsFrom(zs), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers), Store: store})
	if zeroOdd {
		for k := 1; k < nstore; k += 2 {
			clear(store[k*n : (k+1)*n])
		}
	}
	g := z()
	Backward(p, fieldsFrom(zs), &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: weights, Store: store, GradC: g})
	return g
}

// TestModelGradient checks ∂(receivers·weights)/∂c from Backward against a
// central finite difference of Forward, at a few cells, PML included.
func TestModelGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := testProblem(4, 1, 16, 17, 18, 3, rng)
	const nsteps = 10
	src := randomVec(nsteps*p.NSources, rng)
	weights := randomVec(nsteps*p.NReceivers, rng)
	cells := p.Cells()
	loss := func() float64 {
		z := func() []float64 { return make([]float64, cells) }
		f := fieldsFrom(state{u: z(), up: z(), psi: [3][]float64{z(), z(), z()}, zeta: [3][]float64{z(), z(), z()}})
		rec := make([]float64, nsteps*p.NReceivers)
		Forward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
		return dot(rec, weights)
	}
	g := gradientRun(p, src, weights, nsteps, false)
	at := func(z, y, x int) int { return (z*p.NY+y)*p.NX + x }
	for _, i := range []int{at(3, 4, 5), at(8, 8, 9), at(12, 5, 14), int(p.ReceiverIndex[0]), int(p.SourceIndex[0])} {
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

// TestStoreInterval checks that storing every second step gives the
// gradient of storing every step with the odd steps' snapshots zeroed.
func TestStoreInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	p := testProblem(8, 2, 15, 16, 17, 2, rng)
	const nsteps = 9
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	weights := randomVec(nsteps*p.NShots*p.NReceivers, rng)
	want := gradientRun(p, src, weights, nsteps, true)
	p.StoreInterval = 2
	got := gradientRun(p, src, weights, nsteps, false)
	closeTo(t, "gradient", got, want, 1e-14)
}

// TestChunkedStore runs the forward pass in chunks, each writing its
// snapshots into a buffer of its own (StoreFirst), and checks the
// snapshots and the final state against one call, bit for bit.
func TestChunkedStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	p := testProblem(4, 2, 12, 13, 14, 2, rng)
	p.StoreInterval = 2
	nsteps, cells := 16, p.NShots*p.Cells()
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	s0 := randomState(p, rng)
	whole := make([]float64, (nsteps+1)/2*cells)
	one := fieldsFrom(s0)
	Forward(p, one, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, nsteps*p.NShots*p.NReceivers), Store: whole})

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
			closeTo(t, "snapshot", store[(k-first)*cells:(k-first+1)*cells], whole[k*cells:(k+1)*cells], 0)
		}
		if count%2 == 1 {
			swapPairs(f)
		}
		step += count
	}
	got, want := current(f, 0), current(one, nsteps)
	for k, v := range want.vecs() {
		closeTo(t, "state", got.vecs()[k], v, 0)
	}
	bad := &Chunk[float64]{Step0: 4, NSteps: 2, Store: make([]float64, cells), StoreFirst: 3, SourceAmp: src[:2*p.NShots*p.NSources], ReceiverAmp: make([]float64, 2*p.NShots*p.NReceivers)}
	if err := p.ValidateChunk(f, bad, false); err == nil {
		t.Error("a store that starts after the chunk's first snapshot was accepted")
	}
}

// TestModelPerShot checks that per-shot models give each shot the result
// of running it alone with its model.
func TestModelPerShot(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	p := testProblem(4, 2, 12, 13, 14, 2, rng)
	c1 := append([]float64(nil), p.C...)
	for i := range c1 {
		c1[i] *= 1.5
	}
	const nsteps = 6
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	x := randomState(p, rng)
	both := *p
	both.ModelPerShot, both.C = true, append(append([]float64(nil), p.C...), c1...)
	rec := make([]float64, nsteps*p.NShots*p.NReceivers)
	f := fieldsFrom(x)
	Forward(&both, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
	for shot, c := range [][]float64{p.C, c1} {
		q := *p
		q.C = c
		recq := make([]float64, len(rec))
		fq := fieldsFrom(x)
		Forward(&q, fq, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: recq})
		cells := p.Cells()
		closeTo(t, "u", current(f, nsteps).u[shot*cells:(shot+1)*cells], current(fq, nsteps).u[shot*cells:(shot+1)*cells], 0)
		for step := 0; step < nsteps; step++ {
			o := (step*p.NShots + shot) * p.NReceivers
			closeTo(t, "receivers", rec[o:o+p.NReceivers], recq[o:o+p.NReceivers], 0)
		}
	}
}

// TestLargeGridSchedule checks the planes shared among threads, and whole
// shots per thread, against one thread, bit for bit.
func TestLargeGridSchedule(t *testing.T) {
	defer parallel.SetThreads(0)
	rng := rand.New(rand.NewPCG(5, 5))
	p := testProblem(8, 3, 40, 41, 42, 4, rng)
	parallel.SetThreads(2)
	if got := shotsTogether(p); got != 2 {
		t.Fatalf("3 shots on 2 threads: %d shots together, want 2", got)
	}
	const nsteps = 3
	run := func(threads int) ([]float64, []float64) {
		parallel.SetThreads(threads)
		f := fieldsFrom(randomState(p, rand.New(rand.NewPCG(1, 1))))
		rec := make([]float64, nsteps*p.NShots*p.NReceivers)
		src := randomVec(nsteps*p.NShots*p.NSources, rand.New(rand.NewPCG(2, 2)))
		store := make([]float64, nsteps*p.NShots*p.Cells())
		Forward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec, Store: store})
		g := make([]float64, p.NShots*p.Cells())
		Backward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: rec, Store: store, GradC: g})
		return append(rec, f.U[0]...), g
	}
	a, ga := run(1)
	b, gb := run(2)
	closeTo(t, "state", b, a, 0)
	closeTo(t, "gradient", gb, ga, 0)
}

// TestFloat32 checks float32 against float64 on the same problem.
func TestFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	p := testProblem(8, 1, 14, 15, 26, 3, rng)
	const nsteps = 12
	src := randomVec(nsteps*p.NSources, rng)
	x := randomState(p, rng)
	rec := make([]float64, nsteps*p.NReceivers)
	Forward(p, fieldsFrom(x), &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
	q, f := toFloat32(p, x)
	rec32 := make([]float32, len(rec))
	Forward(q, f, &Chunk[float32]{NSteps: nsteps, SourceAmp: f32(src), ReceiverAmp: rec32})
	closeTo(t, "receivers", f64(rec32), rec, 1e-4)
	want := fieldsFrom(x)
	Forward(p, want, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec})
	closeTo(t, "u", f64(f.U[nsteps%2]), want.U[nsteps%2], 1e-4)
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// toFloat32 converts a problem and a state to float32.
func toFloat32(p *Problem[float64], x state) (*Problem[float32], *Fields[float32]) {
	q := &Problem[float32]{NShots: p.NShots, NZ: p.NZ, NY: p.NY, NX: p.NX, Accuracy: p.Accuracy, RDZ: p.RDZ, RDY: p.RDY, RDX: p.RDX,
		C: f32(p.C), ModelPerShot: p.ModelPerShot,
		AZ: f32(p.AZ), BZ: f32(p.BZ), DBZ: f32(p.DBZ), AY: f32(p.AY), BY: f32(p.BY), DBY: f32(p.DBY), AX: f32(p.AX), BX: f32(p.BX), DBX: f32(p.DBX),
		SourceIndex: p.SourceIndex, ReceiverIndex: p.ReceiverIndex, NSources: p.NSources, NReceivers: p.NReceivers, StoreInterval: p.StoreInterval}
	pair := func(v []float64) [2][]float32 { return [2][]float32{f32(v), make([]float32, len(v))} }
	f := &Fields[float32]{U: [2][]float32{f32(x.u), f32(x.up)},
		PsiZ: pair(x.psi[0]), PsiY: pair(x.psi[1]), PsiX: pair(x.psi[2]),
		ZetaZ: pair(x.zeta[0]), ZetaY: pair(x.zeta[1]), ZetaX: pair(x.zeta[2])}
	return q, f
}

func TestValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	good := func() *Problem[float64] { return testProblem(4, 1, 10, 11, 12, 1, rng) }
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Problem[float64]){
		"accuracy":   func(p *Problem[float64]) { p.Accuracy = 3 },
		"small z":    func(p *Problem[float64]) { p.NZ = 4 },
		"rdz":        func(p *Problem[float64]) { p.RDZ = 0 },
		"az":         func(p *Problem[float64]) { p.AZ = p.AZ[1:] },
		"c":          func(p *Problem[float64]) { p.C = p.C[1:] },
		"source":     func(p *Problem[float64]) { p.SourceIndex[0] = 1 },
		"receiver":   func(p *Problem[float64]) { p.ReceiverIndex[0] = int64(p.Cells()) },
		"interval":   func(p *Problem[float64]) { p.StoreInterval = 0 },
		"per shot c": func(p *Problem[float64]) { p.ModelPerShot = true; p.NShots = 2 },
	} {
		p := good()
		edit(p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
