package maxwell

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestBandMatchesScalar runs the band kernels, forward and adjoint, as
// the steps call them, over every band row and segment of a grid with a
// PML on random fields, against the scalar loops (forwardHGeneric and the
// like) in float32, with and without the stores and gradients. The vector
// build runs the band 8 cells at a time, including vectors that straddle
// a profile's edge.
func TestBandMatchesScalar(t *testing.T) {
	type pass = func(*Problem[float32], *stencil[float32], *view[float32], int, int, int)
	for _, order := range []int{2, 4, 6, 8} {
		for _, c := range []struct {
			name            string
			io              bool
			scalar, vectors [2]pass
		}{
			{"forward", false, [2]pass{forwardHGeneric[float32], forwardEGeneric[float32]}, [2]pass{forwardH[float32], forwardE[float32]}},
			{"forward", true, [2]pass{forwardHGeneric[float32], forwardEGeneric[float32]}, [2]pass{forwardH[float32], forwardE[float32]}},
			{"backward", false, [2]pass{backwardEGeneric[float32], backwardHGeneric[float32]}, [2]pass{backwardE[float32], backwardH[float32]}},
			{"backward", true, [2]pass{backwardEGeneric[float32], backwardHGeneric[float32]}, [2]pass{backwardE[float32], backwardH[float32]}},
		} {
			io := c.io
			name := fmt.Sprintf("stencil %d %s io=%v", order, c.name, io)
			rng := rand.New(rand.NewPCG(uint64(order), 11))
			p := convertProblem[float32](testProblem(order, 1, 61, 133, 9, false, rng))
			s := newStencil(p)
			cells := p.cells()
			var orig [22][]float32
			for b := range orig {
				orig[b] = make([]float32, cells)
				for i := range orig[b] {
					orig[b][i] = float32(rng.NormFloat64())
				}
			}
			run := func(passes [2]pass) [22][]float32 {
				var b [22][]float32
				for i := range b {
					b[i] = append([]float32(nil), orig[i]...)
				}
				v := &view[float32]{ey: b[0], eyn: b[1], hx: b[2], hz: b[3],
					mEyX: b[4], mEyXn: b[5], mEyZ: b[6], mEyZn: b[7], mHxZ: b[8], mHxZn: b[9], mHzX: b[10], mHzXn: b[11],
					ca: b[12], cb: b[13], cq: b[14]}
				if io {
					v.storeEy, v.storeCurl, v.storeZ, v.storeX = b[15], b[16], b[17], b[18]
					if c.name == "backward" {
						v.gCA, v.gCB, v.gCQ = b[19], b[20], b[21]
					}
				}
				for _, pass := range passes {
					s.rows(p.NX, s.h, p.NY-s.h, true, func(y, x0, x1 int) { pass(p, s, v, y, x0, x1) }, func(i0, i1 int) {})
				}
				return b
			}
			want, got := run(c.scalar), run(c.vectors)
			for b := range want {
				var scale, diff float64
				for i := range want[b] {
					scale = math.Max(scale, math.Abs(float64(want[b][i])))
					diff = math.Max(diff, math.Abs(float64(want[b][i]-got[b][i])))
				}
				if diff > 1e-6*scale {
					t.Errorf("%s: buffer %d differs by %.3g (scale %.3g)", name, b, diff, scale)
				}
			}
		}
	}
}
