package scalar3d

import (
	"math/rand/v2"
	"testing"
)

// TestForwardZetaInPlace: Python passes each forward ζ pair as one buffer
// twice (ζ is updated point by point), so Forward must read ζ at a cell
// before writing it there. It must match the run with separate buffers.
func TestForwardZetaInPlace(t *testing.T) {
	for _, generic := range []bool{false, true} {
		setGeneric(generic)
		for _, acc := range []int{2, 8} {
			rng := rand.New(rand.NewPCG(uint64(acc), 5))
			p := testProblem(acc, 2, 13, 14, 19, 3, rng)
			x := randomState(p, rng)
			const nsteps = 5
			src := randomVec(nsteps*p.NShots*p.NSources, rng)
			separate, aliased := fieldsFrom(x), fieldsFrom(x)
			for _, z := range []*[2][]float64{&aliased.ZetaZ, &aliased.ZetaY, &aliased.ZetaX} {
				z[1] = z[0]
			}
			recA := make([]float64, nsteps*p.NShots*p.NReceivers)
			recB := make([]float64, len(recA))
			Forward(p, separate, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: recA})
			Forward(p, aliased, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: recB})
			closeTo(t, "receivers", recB, recA, 1e-13)
			want, got := current(separate, nsteps), current(aliased, nsteps)
			for k, v := range want.vecs() {
				closeTo(t, "field", got.vecs()[k], v, 1e-13)
			}
		}
	}
	setGeneric(false)
}
