package acoustic

import (
	"math"
	"math/rand"
	"testing"
)

// testProblem is a small random problem in ndim dimensions with every
// kind of source and receiver and a PML of 2 cells.
func testProblem(ndim, accuracy, shots int, rng *rand.Rand) *Problem[float64] {
	return testProblemWith(ndim, accuracy, shots, []int{9, 10, 11}, 2, rng)
}

// testProblemWith is testProblem with the given interior sizes (slowest
// axis first) and PML width.
func testProblemWith(ndim, accuracy, shots int, sizes []int, pml int, rng *rand.Rand) *Problem[float64] {
	h := accuracy / 2
	p := &Problem[float64]{NShots: shots, NDim: ndim, Accuracy: accuracy, N: [3]int{1, 1, 1}, DT: 4e-4, StoreInterval: 1}
	for k, d := range []int{0, 1, 2}[3-ndim:] {
		p.N[d] = sizes[k] + 2*h + 2*pml
		p.RD[d] = 1 / (4.0 + float64(k))
		n := p.N[d]
		for _, prof := range []*[]float64{&p.A[d], &p.Bp[d], &p.AH[d], &p.BH[d]} {
			*prof = make([]float64, n)
		}
		for j := 0; j < n; j++ {
			if j < h+pml || j >= n-h-pml {
				p.A[d][j], p.Bp[d][j] = 0.5+0.4*rng.Float64(), -0.3*rng.Float64()
			}
			if j < h+pml || j >= n-h-pml-1 {
				p.AH[d][j], p.BH[d][j] = 0.5+0.4*rng.Float64(), -0.3*rng.Float64()
			}
		}
	}
	cells := p.Cells()
	p.K = make([]float64, cells)
	for i := range p.K {
		p.K[i] = 2e9 * (1 + rng.Float64())
	}
	for _, d := range p.Axes() {
		p.B[d] = make([]float64, cells)
		for i := range p.B[d] {
			p.B[d][i] = 1e-3 * (0.5 + rng.Float64())
		}
	}
	for k := 0; k <= ndim; k++ {
		for _, set := range []struct {
			idx *[]int64
			n   *int
		}{{&p.SourceIndex[k], &p.NSources[k]}, {&p.ReceiverIndex[k], &p.NReceivers[k]}} {
			*set.n = 2
			for s := 0; s < shots*2; s++ {
				for {
					i := rng.Intn(cells)
					if p.inside(i, k) {
						*set.idx = append(*set.idx, int64(i))
						break
					}
				}
			}
			if (*set.idx)[0] == (*set.idx)[1] {
				(*set.idx)[1] = -1
			}
		}
	}
	return p
}

// randomState is a state that is zero where the scheme keeps it zero.
func randomState(p *Problem[float64], rng *rand.Rand) *Fields[float64] {
	n := p.NShots * p.Cells()
	f := &Fields[float64]{P: make([]float64, n)}
	mask := func(field int) func(i int) bool {
		return func(i int) bool {
			return p.inside(i%p.Cells(), field)
		}
	}
	fill := func(x []float64, ok func(int) bool) {
		for i := range x {
			if ok(i) {
				x[i] = rng.NormFloat64()
			}
		}
	}
	fill(f.P, mask(0))
	for _, d := range p.Axes() {
		f.V[d], f.Phi[d], f.Psi[d] = make([]float64, n), make([]float64, n), make([]float64, n)
		fill(f.V[d], mask(p.field(d)))
		d := d
		coord := func(i int) int {
			c := i % p.Cells()
			return [3]int{c / (p.N[1] * p.N[2]), c / p.N[2] % p.N[1], c % p.N[2]}[d]
		}
		inP, inV := mask(0), mask(p.field(d))
		fill(f.Phi[d], func(i int) bool { j := coord(i); return inP(i) && (p.A[d][j] != 0 || p.Bp[d][j] != 0) })
		fill(f.Psi[d], func(i int) bool { j := coord(i); return inV(i) && (p.AH[d][j] != 0 || p.BH[d][j] != 0) })
	}
	return f
}

func flat(f *Fields[float64]) [][]float64 {
	out := [][]float64{f.P}
	for d := 0; d < 3; d++ {
		if f.V[d] != nil {
			out = append(out, f.V[d], f.Phi[d], f.Psi[d])
		}
	}
	return out
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func randomSlice(n int, rng *rand.Rand) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

func clone(f *Fields[float64]) *Fields[float64] {
	g := &Fields[float64]{P: append([]float64(nil), f.P...)}
	for d := 0; d < 3; d++ {
		if f.V[d] != nil {
			g.V[d] = append([]float64(nil), f.V[d]...)
			g.Phi[d] = append([]float64(nil), f.Phi[d]...)
			g.Psi[d] = append([]float64(nil), f.Psi[d]...)
		}
	}
	return g
}

// TestAdjointDotProduct checks <F x, y> = <x, Fᵀ y> for the state and the
// sources, in 1D, 2D and 3D, for every accuracy, and the model gradients
// against central differences.
func TestAdjointDotProduct(t *testing.T) {
	for ndim := 1; ndim <= 3; ndim++ {
		for _, acc := range []int{2, 4, 6, 8} {
			rng := rand.New(rand.NewSource(int64(10*ndim + acc)))
			p := testProblem(ndim, acc, 2, rng)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			nt := 6
			x := randomState(p, rng)
			y := randomState(p, rng)
			c := &Chunk[float64]{NSteps: nt}
			var src, grec [4][]float64
			for k := 0; k <= ndim; k++ {
				src[k] = randomSlice(nt*p.NShots*p.NSources[k], rng)
				grec[k] = randomSlice(nt*p.NShots*p.NReceivers[k], rng)
				c.SourceAmp[k] = append([]float64(nil), src[k]...)
				c.ReceiverAmp[k] = make([]float64, len(grec[k]))
			}
			n := p.NShots * p.Cells()
			c.StoreK = make([]float64, nt*n)
			for _, d := range p.Axes() {
				c.StoreB[d] = make([]float64, nt*n)
			}
			fx := clone(x)
			if err := p.ValidateChunk(fx, c, false); err != nil {
				t.Fatal(err)
			}
			Forward(p, fx, c)
			lhs := 0.0
			for k, a := range flat(fx) {
				lhs += dot(a, flat(y)[k])
			}
			for k := 0; k <= ndim; k++ {
				lhs += dot(c.ReceiverAmp[k], grec[k])
			}
			b := &Chunk[float64]{NSteps: nt, StoreK: c.StoreK, StoreB: c.StoreB, GradK: make([]float64, n)}
			for _, d := range p.Axes() {
				b.GradB[d] = make([]float64, n)
			}
			for k := 0; k <= ndim; k++ {
				b.ReceiverAmp[k] = grec[k]
				b.SourceAmp[k] = make([]float64, len(src[k]))
			}
			ly := clone(y)
			if err := p.ValidateChunk(ly, b, true); err != nil {
				t.Fatal(err)
			}
			Backward(p, ly, b)
			rhs := 0.0
			for k, a := range flat(ly) {
				rhs += dot(a, flat(x)[k])
			}
			for k := 0; k <= ndim; k++ {
				rhs += dot(b.SourceAmp[k], src[k])
			}
			if lhs == 0 || math.Abs(lhs-rhs) > 1e-11*math.Abs(lhs) {
				t.Errorf("%dD accuracy %d: <Fx,y> = %.15g, <x,Fᵀy> = %.15g", ndim, acc, lhs, rhs)
			}
			// Model gradients: L(m) = <F_m x, y> along a random direction.
			loss := func(k []float64, bs [3][]float64) float64 {
				q := *p
				q.K, q.B = k, bs
				f := clone(x)
				cc := &Chunk[float64]{NSteps: nt}
				for j := 0; j <= ndim; j++ {
					cc.SourceAmp[j] = src[j]
					cc.ReceiverAmp[j] = make([]float64, len(grec[j]))
				}
				Forward(&q, f, cc)
				l := 0.0
				for j, a := range flat(f) {
					l += dot(a, flat(y)[j])
				}
				for j := 0; j <= ndim; j++ {
					l += dot(cc.ReceiverAmp[j], grec[j])
				}
				return l
			}
			dir := randomSlice(p.Cells(), rng)
			shifted := func(m []float64, e float64) []float64 {
				out := make([]float64, len(m))
				for i := range m {
					out[i] = m[i] * (1 + e*dir[i])
				}
				return out
			}
			sumShots := func(g []float64, m []float64) float64 {
				s := 0.0
				for i := range g {
					c := i % p.Cells()
					s += g[i] * m[c] * dir[c]
				}
				return s
			}
			const e = 1e-6
			fd := (loss(shifted(p.K, e), p.B) - loss(shifted(p.K, -e), p.B)) / (2 * e)
			if got := sumShots(b.GradK, p.K); math.Abs(got-fd) > 1e-6*math.Abs(fd) {
				t.Errorf("%dD accuracy %d: ∂/∂K %.12g, differences %.12g", ndim, acc, got, fd)
			}
			d := p.Axes()[0]
			bp, bm := p.B, p.B
			bp[d], bm[d] = shifted(p.B[d], e), shifted(p.B[d], -e)
			fd = (loss(p.K, bp) - loss(p.K, bm)) / (2 * e)
			if got := sumShots(b.GradB[d], p.B[d]); math.Abs(got-fd) > 1e-6*math.Abs(fd) {
				t.Errorf("%dD accuracy %d: ∂/∂B %.12g, differences %.12g", ndim, acc, got, fd)
			}
		}
	}
}
