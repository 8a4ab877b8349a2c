package scalar

import (
	"math"
	"math/rand/v2"
	"testing"
)

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

// TestFloat32MatchesFloat64 runs the same forward and backward in both
// precisions: the float32 build (its own vector kernels) must agree with
// the float64 one to float32 round-off, for every accuracy, over a grid wide
// enough that both the vector loops and their scalar tails run.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, acc := range []int{2, 4, 6, 8} {
		rng := rand.New(rand.NewPCG(3, uint64(acc)))
		p := testProblem(acc, 2, 40, 61, 6, rng)
		const nsteps = 15
		n := p.NShots * p.NY * p.NX
		x := randomState(p, rng)
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		weights := randomVec(nsteps*p.NShots*p.NReceivers, rng)

		f64 := fieldsFrom(x)
		rec64 := make([]float64, len(weights))
		store64 := make([]float64, nsteps*n)
		Forward(p, f64, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: rec64, Store: store64})
		g64 := make([]float64, n)
		b64 := fieldsFrom(randomState(p, rand.New(rand.NewPCG(9, 9))))
		srcGrad64 := make([]float64, len(src))
		Backward(p, b64, &Chunk[float64]{NSteps: nsteps, SourceAmp: srcGrad64, ReceiverAmp: weights, Store: store64, GradC: g64})

		q := &Problem[float32]{NShots: p.NShots, NY: p.NY, NX: p.NX, Accuracy: acc, RDY: p.RDY, RDX: p.RDX,
			C: toF32(p.C), AY: toF32(p.AY), BY: toF32(p.BY), DBY: toF32(p.DBY), AX: toF32(p.AX), BX: toF32(p.BX), DBX: toF32(p.DBX),
			SourceIndex: p.SourceIndex, ReceiverIndex: p.ReceiverIndex, NSources: p.NSources, NReceivers: p.NReceivers, StoreInterval: 1}
		conv := func(f *Fields[float64]) *Fields[float32] {
			pair := func(v [2][]float64) [2][]float32 { return [2][]float32{toF32(v[0]), toF32(v[1])} }
			return &Fields[float32]{U: pair(f.U), PsiY: pair(f.PsiY), PsiX: pair(f.PsiX), ZetaY: pair(f.ZetaY), ZetaX: pair(f.ZetaX)}
		}
		f32 := conv(fieldsFrom(x))
		rec32 := make([]float32, len(weights))
		store32 := make([]float32, nsteps*n)
		Forward(q, f32, &Chunk[float32]{NSteps: nsteps, SourceAmp: toF32(src), ReceiverAmp: rec32, Store: store32})
		g32 := make([]float32, n)
		b32 := conv(fieldsFrom(randomState(p, rand.New(rand.NewPCG(9, 9)))))
		srcGrad32 := make([]float32, len(src))
		Backward(q, b32, &Chunk[float32]{NSteps: nsteps, SourceAmp: srcGrad32, ReceiverAmp: toF32(weights), Store: store32, GradC: g32})

		for _, c := range []struct {
			name string
			a    []float32
			b    []float64
		}{
			{"receivers", rec32, rec64}, {"u", f32.U[1], f64.U[1]}, {"psiy", f32.PsiY[1], f64.PsiY[1]},
			{"zetax", f32.ZetaX[1], f64.ZetaX[1]}, {"store", store32, store64},
			{"mu", b32.U[1], b64.U[1]}, {"adjoint psix", b32.PsiX[1], b64.PsiX[1]}, {"adjoint zetay", b32.ZetaY[1], b64.ZetaY[1]},
			{"grad c", g32, g64}, {"grad source", srcGrad32, srcGrad64},
		} {
			if d := maxRelDiff(c.a, c.b); d > 2e-5 || math.IsNaN(d) {
				t.Errorf("accuracy %d %s: float32 and float64 differ by %.2e (relative to max)", acc, c.name, d)
			}
		}
	}
}
