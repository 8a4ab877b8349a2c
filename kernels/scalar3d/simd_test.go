package scalar3d

import (
	"math"
	"math/rand/v2"
	"testing"
)

// runBoth runs nsteps forward with a store and then backward with the
// model gradient, and returns every output: the final adjoint fields, the
// store, the gradient, the receivers and the source gradients.
func runBoth[T Float](p *Problem[T], f *Fields[T], nsteps int, src []T) [][]T {
	n := p.NShots * p.Cells()
	rec := make([]T, nsteps*p.NShots*p.NReceivers)
	store := make([]T, nsteps*n)
	Forward(p, f, &Chunk[T]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec, Store: store})
	out := [][]T{rec, store}
	cur := nsteps % 2
	for _, pair := range []*[2][]T{&f.U, &f.PsiZ, &f.PsiY, &f.PsiX, &f.ZetaZ, &f.ZetaY, &f.ZetaX} {
		out = append(out, append([]T(nil), pair[cur]...))
	}
	if cur == 1 {
		swapPairs(f)
	}
	g := make([]T, n)
	srca := make([]T, len(src))
	Backward(p, f, &Chunk[T]{NSteps: nsteps, SourceAmp: srca, ReceiverAmp: rec, Store: store, GradC: g})
	out = append(out, g, srca)
	for _, pair := range []*[2][]T{&f.U, &f.PsiZ, &f.PsiY, &f.PsiX, &f.ZetaZ, &f.ZetaY, &f.ZetaX} {
		out = append(out, pair[cur])
	}
	return out
}

// TestVectorKernels checks the vector kernels against the plain-Go ones:
// float64 to 1e-12 and float32 to 1e-5 of each output's largest value, on
// rows with whole vectors, x-band vectors and plain-Go tails.
func TestVectorKernels(t *testing.T) {
	if !SIMD {
		t.Skip("no vector kernels in this build")
	}
	defer setGeneric(false)
	for _, acc := range []int{2, 4, 6, 8} {
		rng := rand.New(rand.NewPCG(uint64(acc), 3))
		p := testProblem(acc, 1, 12+acc, 13+acc, 45+acc, 5, rng)
		// A non-zero ∂b alone in the middle: an x-band island.
		p.DBX[p.NX/2] = 0.05
		x := randomState(p, rng)
		const nsteps = 4
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		var want64, got64 [][]float64
		var want32, got32 [][]float32
		for _, generic := range []bool{true, false} {
			setGeneric(generic)
			o64 := runBoth(p, fieldsFrom(x), nsteps, src)
			q, f := toFloat32(p, x)
			o32 := runBoth(q, f, nsteps, f32(src))
			if generic {
				want64, want32 = o64, o32
			} else {
				got64, got32 = o64, o32
			}
		}
		for k := range want64 {
			if d := relDiff(got64[k], want64[k]); d > 1e-12 {
				t.Errorf("accuracy %d, float64 output %d: vector kernels off by %.2e", acc, k, d)
			}
			if d := relDiff(f64(got32[k]), f64(want32[k])); d > 1e-5 || math.IsNaN(d) {
				t.Errorf("accuracy %d, float32 output %d: vector kernels off by %.2e", acc, k, d)
			}
		}
	}
}
