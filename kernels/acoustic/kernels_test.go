package acoustic

import (
	"math"
	"math/rand"
	"testing"
)

// TestRowKernelsMatchReference runs Forward and Backward, with the vector
// kernels and with the plain-Go ones, against the per-cell formula on
// random problems, in 1D, 2D and 3D, for every accuracy.
func TestRowKernelsMatchReference(t *testing.T) {
	for _, generic := range []bool{false, true} {
		setGeneric(generic)
		for ndim := 1; ndim <= 3; ndim++ {
			for _, acc := range []int{2, 4, 6, 8} {
				rng := rand.New(rand.NewSource(int64(100*ndim + acc)))
				p := testProblem(ndim, acc, 2, rng)
				p.StoreInterval = 2
				nt := 5
				x := randomState(p, rng)
				n := p.NShots * p.Cells()
				chunk := func() *Chunk[float64] {
					c := &Chunk[float64]{NSteps: nt, StoreK: make([]float64, 3*n), GradK: make([]float64, n)}
					for _, d := range p.Axes() {
						c.StoreB[d], c.GradB[d] = make([]float64, 3*n), make([]float64, n)
					}
					for k := 0; k <= ndim; k++ {
						c.SourceAmp[k] = randomSlice(nt*p.NShots*p.NSources[k], rand.New(rand.NewSource(int64(k))))
						c.ReceiverAmp[k] = make([]float64, nt*p.NShots*p.NReceivers[k])
					}
					return c
				}
				got, want := clone(x), clone(x)
				cg, cw := chunk(), chunk()
				Forward(p, got, cg)
				referenceForward(p, want, cw)
				name := func(what string) string {
					return map[bool]string{false: "vector", true: "generic"}[generic] + " " + what
				}
				compare(t, name("forward state"), ndim, acc, flat(got), flat(want))
				compare(t, name("forward store"), ndim, acc, storeOf(cg), storeOf(cw))
				compare(t, name("forward receivers"), ndim, acc, cg.ReceiverAmp[:ndim+1], cw.ReceiverAmp[:ndim+1])
				// Backward from a random adjoint state, receiver gradients
				// and the snapshots the forward stored.
				y := randomState(p, rng)
				for k := 0; k <= ndim; k++ {
					cg.ReceiverAmp[k] = randomSlice(len(cg.ReceiverAmp[k]), rng)
					cw.ReceiverAmp[k] = append([]float64(nil), cg.ReceiverAmp[k]...)
				}
				got, want = clone(y), clone(y)
				Backward(p, got, cg)
				referenceBackward(p, want, cw)
				compare(t, name("backward state"), ndim, acc, flat(got), flat(want))
				compare(t, name("backward sources"), ndim, acc, cg.SourceAmp[:ndim+1], cw.SourceAmp[:ndim+1])
				compare(t, name("backward gradients"), ndim, acc, gradOf(cg), gradOf(cw))
			}
		}
	}
	setGeneric(false)
}

func storeOf(c *Chunk[float64]) [][]float64 {
	out := [][]float64{c.StoreK}
	for _, s := range c.StoreB {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func gradOf(c *Chunk[float64]) [][]float64 {
	out := [][]float64{c.GradK}
	for _, s := range c.GradB {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// compare fails unless every array of got is within rounding of want's.
func compare(t *testing.T, what string, ndim, acc int, got, want [][]float64) {
	t.Helper()
	for a := range want {
		scale := 0.0
		for _, w := range want[a] {
			scale = math.Max(scale, math.Abs(w))
		}
		for i := range want[a] {
			if math.Abs(got[a][i]-want[a][i]) > 1e-12*scale {
				t.Errorf("%dD accuracy %d %s: array %d cell %d: %.15g, want %.15g", ndim, acc, what, a, i, got[a][i], want[a][i])
				return
			}
		}
		if scale == 0 {
			t.Errorf("%dD accuracy %d %s: array %d is all zero, the test checks nothing", ndim, acc, what, a)
		}
	}
}
