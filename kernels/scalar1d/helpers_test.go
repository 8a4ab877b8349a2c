package scalar1d

import (
	"math"
	"math/rand/v2"
)

// testProblem builds a small padded grid with a PML of width pml at both
// ends (and ∂b non-zero in it), random positive c (one per shot when
// perShot is set), and a few sources and receivers per shot, one source
// ignored.
func testProblem(acc, shots, nx, pml int, perShot bool, rng *rand.Rand) *Problem[float64] {
	h := acc / 2
	p := &Problem[float64]{
		NShots: shots, NX: nx, Accuracy: acc, RDX: 1 / 1.7,
		StoreInterval: 1, NSources: 2, NReceivers: 3, ModelPerShot: perShot,
	}
	p.C = make([]float64, p.models()*nx)
	for i := range p.C {
		p.C[i] = 0.3 + 0.2*rng.Float64()
	}
	p.AX, p.BX, p.DBX = make([]float64, nx), make([]float64, nx), make([]float64, nx)
	for i := 0; i < nx; i++ {
		d := max(h+pml-i, i-(nx-1-h-pml))
		if d <= 0 {
			continue
		}
		frac := math.Min(float64(d)/float64(pml), 1)
		sigma, alpha := 3*frac*frac, 0.5*(1-frac)
		p.AX[i] = math.Exp(-(sigma + alpha) * 0.1)
		p.BX[i] = sigma / (sigma + alpha) * (p.AX[i] - 1)
		p.DBX[i] = 0.3 * p.BX[i] * float64(i%3-1)
	}
	p.SourceIndex, p.ReceiverIndex = pick(p, p.NSources, rng), pick(p, p.NReceivers, rng)
	p.SourceIndex[1] = -1
	return p
}

// pick draws n distinct interior cells per shot.
func pick(p *Problem[float64], n int, rng *rand.Rand) []int64 {
	h := p.Halo()
	idx := make([]int64, p.NShots*n)
	for s := 0; s < p.NShots; s++ {
		perm := rng.Perm(p.NX - 2*h)
		for r := 0; r < n; r++ {
			idx[s*n+r] = int64(h + perm[r])
		}
	}
	return idx
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

// axpy returns x + a·y.
func axpy(x []float64, a float64, y []float64) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] + a*y[i]
	}
	return out
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// relDiff is the largest difference relative to the largest value of want.
func relDiff(got, want []float64) float64 {
	var num, den float64
	for i := range got {
		num = math.Max(num, math.Abs(got[i]-want[i]))
		den = math.Max(den, math.Abs(want[i]))
	}
	if den == 0 {
		return num
	}
	return num / den
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// cAt is c at index i of a [NShots][NX] buffer.
func cAt(p *Problem[float64], i int) float64 {
	if p.ModelPerShot {
		return p.C[i]
	}
	return p.C[i%p.NX]
}

// live reports whether the PML fields at index i of a [NShots][NX]
// buffer can influence anything.
func live(p *Problem[float64], i int) bool {
	x := i % p.NX
	return p.AX[x] != 0 || p.BX[x] != 0
}

func interior(p *Problem[float64], i int) bool {
	x, h := i%p.NX, p.Halo()
	return x >= h && x < p.NX-h
}

type state struct{ u, up, psi, zeta []float64 }

func (s state) vecs() [][]float64 { return [][]float64{s.u, s.up, s.psi, s.zeta} }

// randomState is a random state, zero in the halo and, for ψ and ζ,
// where the PML fields are dead.
func randomState(p *Problem[float64], rng *rand.Rand) state {
	n := p.NShots * p.NX
	s := state{randomVec(n, rng), randomVec(n, rng), randomVec(n, rng), randomVec(n, rng)}
	for i := 0; i < n; i++ {
		if !interior(p, i) {
			s.u[i], s.up[i] = 0, 0
		}
		if !interior(p, i) || !live(p, i) {
			s.psi[i], s.zeta[i] = 0, 0
		}
	}
	return s
}

func zeroState(p *Problem[float64]) state {
	n := p.NShots * p.NX
	return state{make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)}
}

func clone(v []float64) []float64 { return append([]float64(nil), v...) }

func fieldsFrom(s state) *Fields[float64] {
	z := func() []float64 { return make([]float64, len(s.u)) }
	return &Fields[float64]{
		U:     [2][]float64{clone(s.u), clone(s.up)},
		PsiX:  [2][]float64{clone(s.psi), z()},
		ZetaX: [2][]float64{clone(s.zeta), z()},
	}
}

// current returns the state after nsteps: the roles swap each step.
func current(f *Fields[float64], nsteps int) state {
	a, b := nsteps%2, (nsteps+1)%2
	return state{f.U[a], f.U[b], f.PsiX[a], f.ZetaX[a]}
}

// swapIfOdd swaps every pair after an odd number of steps, as callers do.
func swapIfOdd(count int, fs ...*Fields[float64]) {
	if count%2 == 0 {
		return
	}
	for _, f := range fs {
		for _, pair := range []*[2][]float64{&f.U, &f.PsiX, &f.ZetaX} {
			pair[0], pair[1] = pair[1], pair[0]
		}
	}
}

// adjointFields scales an adjoint state as Backward expects it.
func adjointFields(p *Problem[float64], ya state) *Fields[float64] {
	s := state{make([]float64, len(ya.u)), make([]float64, len(ya.u)), ya.psi, ya.zeta}
	for i := range ya.u {
		c := cAt(p, i)
		s.u[i], s.up[i] = c*ya.u[i], -c*ya.up[i]
	}
	return fieldsFrom(s)
}

// adjointState undoes the scaling of adjointFields after nsteps.
func adjointState(p *Problem[float64], f *Fields[float64], nsteps int) state {
	xa := current(f, nsteps)
	out := state{make([]float64, len(xa.u)), make([]float64, len(xa.u)), xa.psi, xa.zeta}
	for i := range xa.u {
		c := cAt(p, i)
		out.u[i], out.up[i] = xa.u[i]/c, -xa.up[i]/c
	}
	return out
}

func stateDot(a, b state) float64 {
	var s float64
	for k, v := range a.vecs() {
		s += dot(v, b.vecs()[k])
	}
	return s
}

// modelDot is Σ m·g/c over [NShots][NX] gradient g and model-shaped m.
func modelDot(p *Problem[float64], m, g []float64) float64 {
	var s float64
	for i := range g {
		j := i
		if !p.ModelPerShot {
			j = i % p.NX
		}
		s += m[j] * g[i] / p.C[j]
	}
	return s
}

// modelGradient sums a [NShots][NX] accumulator into ∂/∂c at cell x of
// shot 0's model (every shot's, for a shared model).
func modelGradient(p *Problem[float64], g []float64, x int) float64 {
	if p.ModelPerShot {
		return g[x] / p.C[x]
	}
	var sum float64
	for s := 0; s < p.NShots; s++ {
		sum += g[s*p.NX+x] / p.C[x]
	}
	return sum
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func maxRelDiff(a []float32, b []float64) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(float64(a[i])-b[i]))
		den = math.Max(den, math.Abs(b[i]))
	}
	return num / den
}

func problem32(p *Problem[float64]) *Problem[float32] {
	return &Problem[float32]{NShots: p.NShots, NX: p.NX, Accuracy: p.Accuracy, RDX: p.RDX,
		C: toF32(p.C), ModelPerShot: p.ModelPerShot, AX: toF32(p.AX), BX: toF32(p.BX), DBX: toF32(p.DBX),
		SourceIndex: p.SourceIndex, ReceiverIndex: p.ReceiverIndex, NSources: p.NSources, NReceivers: p.NReceivers,
		StoreInterval: p.StoreInterval}
}

func fields32(f *Fields[float64]) *Fields[float32] {
	pair := func(v [2][]float64) [2][]float32 { return [2][]float32{toF32(v[0]), toF32(v[1])} }
	return &Fields[float32]{U: pair(f.U), PsiX: pair(f.PsiX), ZetaX: pair(f.ZetaX)}
}
