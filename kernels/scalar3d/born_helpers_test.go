package scalar3d

import (
	"math"
	"math/rand/v2"
)

// The Born tests' helpers carry the prefix bt, apart from the other
// tests' of this package.

// btProblem builds a small padded grid with a PML of width pml on every
// face (∂b non-zero in it), random positive c (one per shot when
// perShot), a few sources and receivers per shot (one source ignored), a
// random dc (non-zero in the halo too, where it must be ignored) and four
// scattered receivers per shot, one ignored.
func btProblem(acc, shots, nz, ny, nx, pml int, perShot bool, rng *rand.Rand) *BornProblem[float64] {
	h := acc / 2
	p := &Problem[float64]{
		NShots: shots, NZ: nz, NY: ny, NX: nx, Accuracy: acc,
		RDZ: 1 / 1.3, RDY: 1 / 1.5, RDX: 1 / 2.0,
		StoreInterval: 1, NSources: 2, NReceivers: 3, ModelPerShot: perShot,
	}
	p.C = make([]float64, p.models()*p.Cells())
	for i := range p.C {
		p.C[i] = 0.1 + 0.06*rng.Float64()
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
	p.AZ, p.BZ, p.DBZ = profile(nz)
	p.AY, p.BY, p.DBY = profile(ny)
	p.AX, p.BX, p.DBX = profile(nx)
	p.SourceIndex, p.ReceiverIndex = btPick(p, p.NSources, rng), btPick(p, p.NReceivers, rng)
	p.SourceIndex[1] = -1
	b := &BornProblem[float64]{Problem: p, DC: make([]float64, len(p.C)), NScatteredReceivers: 4}
	for i := range b.DC {
		b.DC[i] = 0.02 * rng.NormFloat64()
	}
	b.ScatteredReceiverIndex = btPick(p, b.NScatteredReceivers, rng)
	b.ScatteredReceiverIndex[2] = -1
	if err := b.Validate(); err != nil {
		panic(err)
	}
	return b
}

// btPick draws n distinct interior cells per shot.
func btPick(p *Problem[float64], n int, rng *rand.Rand) []int64 {
	h := p.Halo()
	iz, iy, ix := p.NZ-2*h, p.NY-2*h, p.NX-2*h
	idx := make([]int64, p.NShots*n)
	for s := 0; s < p.NShots; s++ {
		perm := rng.Perm(iz * iy * ix)
		for r := 0; r < n; r++ {
			z, y, x := h+perm[r]/(iy*ix), h+perm[r]/ix%iy, h+perm[r]%ix
			idx[s*n+r] = int64((z*p.NY+y)*p.NX + x)
		}
	}
	return idx
}

func btRandomVec(n int, rng *rand.Rand) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func btDot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func btAxpy(x []float64, a float64, y []float64) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] + a*y[i]
	}
	return out
}

func btEqual(a, b []float64) bool {
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

// btRelDiff is the largest difference relative to the largest value of
// want.
func btRelDiff(got, want []float64) float64 {
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

func btMaxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// btCoords are the coordinates of flat index i of a [NShots][NZ][NY][NX]
// buffer within its shot.
func btCoords(p *Problem[float64], i int) (z, y, x int) {
	i %= p.Cells()
	return i / (p.NY * p.NX), i / p.NX % p.NY, i % p.NX
}

// btState is a wavefield state: u, u_prev, then ψ and ζ along z, y, x.
type btState struct {
	u, up     []float64
	psi, zeta [3][]float64
}

func (s btState) vecs() [][]float64 {
	return [][]float64{s.u, s.up, s.psi[0], s.psi[1], s.psi[2], s.zeta[0], s.zeta[1], s.zeta[2]}
}

// btRandomState is a random state, zero in the halo and, for ψ and ζ of
// an axis, where that axis's PML fields are dead.
func btRandomState(p *Problem[float64], rng *rand.Rand) btState {
	n := p.NShots * p.Cells()
	s := btState{u: btRandomVec(n, rng), up: btRandomVec(n, rng)}
	for d := range s.psi {
		s.psi[d], s.zeta[d] = btRandomVec(n, rng), btRandomVec(n, rng)
	}
	h := p.Halo()
	profiles := [3][2][]float64{{p.AZ, p.BZ}, {p.AY, p.BY}, {p.AX, p.BX}}
	for i := 0; i < n; i++ {
		z, y, x := btCoords(p, i)
		c := [3]int{z, y, x}
		inside := z >= h && z < p.NZ-h && y >= h && y < p.NY-h && x >= h && x < p.NX-h
		if !inside {
			s.u[i], s.up[i] = 0, 0
		}
		for d := range s.psi {
			if !inside || (profiles[d][0][c[d]] == 0 && profiles[d][1][c[d]] == 0) {
				s.psi[d][i], s.zeta[d][i] = 0, 0
			}
		}
	}
	return s
}

func btZeroState(p *Problem[float64]) btState {
	n := p.NShots * p.Cells()
	s := btState{u: make([]float64, n), up: make([]float64, n)}
	for d := range s.psi {
		s.psi[d], s.zeta[d] = make([]float64, n), make([]float64, n)
	}
	return s
}

func btClone(v []float64) []float64 { return append([]float64(nil), v...) }

func btFields(s btState) *Fields[float64] {
	z := func() []float64 { return make([]float64, len(s.u)) }
	pair := func(v []float64) [2][]float64 { return [2][]float64{btClone(v), z()} }
	return &Fields[float64]{
		U:    [2][]float64{btClone(s.u), btClone(s.up)},
		PsiZ: pair(s.psi[0]), PsiY: pair(s.psi[1]), PsiX: pair(s.psi[2]),
		ZetaZ: pair(s.zeta[0]), ZetaY: pair(s.zeta[1]), ZetaX: pair(s.zeta[2]),
	}
}

// btCurrent returns the state after nsteps: the roles swap each step.
func btCurrent(f *Fields[float64], nsteps int) btState {
	a, b := nsteps%2, (nsteps+1)%2
	return btState{u: f.U[a], up: f.U[b],
		psi:  [3][]float64{f.PsiZ[a], f.PsiY[a], f.PsiX[a]},
		zeta: [3][]float64{f.ZetaZ[a], f.ZetaY[a], f.ZetaX[a]}}
}

// btSwap swaps every pair after an odd number of steps, as callers do.
func btSwap(count int, fs ...*Fields[float64]) {
	if count%2 == 0 {
		return
	}
	for _, f := range fs {
		for _, pair := range []*[2][]float64{&f.U, &f.PsiZ, &f.PsiY, &f.PsiX, &f.ZetaZ, &f.ZetaY, &f.ZetaX} {
			pair[0], pair[1] = pair[1], pair[0]
		}
	}
}

// btC is c at flat index i of a [NShots][NZ][NY][NX] buffer.
func btC(p *Problem[float64], i int) float64 {
	if p.ModelPerShot {
		return p.C[i]
	}
	return p.C[i%p.Cells()]
}

// btAdjointFields scales an adjoint state as the backward pass expects it.
func btAdjointFields(p *Problem[float64], ya btState) *Fields[float64] {
	s := btState{u: make([]float64, len(ya.u)), up: make([]float64, len(ya.u)), psi: ya.psi, zeta: ya.zeta}
	for i := range ya.u {
		c := btC(p, i)
		s.u[i], s.up[i] = c*ya.u[i], -c*ya.up[i]
	}
	return btFields(s)
}

// btAdjointState undoes the scaling of btAdjointFields after nsteps.
func btAdjointState(p *Problem[float64], f *Fields[float64], nsteps int) btState {
	xa := btCurrent(f, nsteps)
	out := btState{u: make([]float64, len(xa.u)), up: make([]float64, len(xa.u)), psi: xa.psi, zeta: xa.zeta}
	for i := range xa.u {
		c := btC(p, i)
		out.u[i], out.up[i] = xa.u[i]/c, -xa.up[i]/c
	}
	return out
}

func btStateDot(a, b btState) float64 {
	var s float64
	for k, v := range a.vecs() {
		s += btDot(v, b.vecs()[k])
	}
	return s
}

// btModelDot is Σ m·g/c over [NShots][NZ][NY][NX] gradient g and
// model-shaped m.
func btModelDot(p *Problem[float64], m, g []float64) float64 {
	var s float64
	for i := range g {
		j := i
		if !p.ModelPerShot {
			j = i % p.Cells()
		}
		s += m[j] * g[i] / p.C[j]
	}
	return s
}

// btModelGradient sums an accumulator into ∂/∂c at cell i of shot 0's
// model (every shot's, for a shared model).
func btModelGradient(p *Problem[float64], g []float64, i int) float64 {
	if p.ModelPerShot {
		return g[i] / p.C[i]
	}
	var sum float64
	for s := 0; s < p.NShots; s++ {
		sum += g[s*p.Cells()+i] / p.C[i]
	}
	return sum
}

func btF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func btMaxRelDiff(a []float32, b []float64) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(float64(a[i])-b[i]))
		den = math.Max(den, math.Abs(b[i]))
	}
	return num / den
}
