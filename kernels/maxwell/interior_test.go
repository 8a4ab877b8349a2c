package maxwell

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// TestInteriorMatchesBand checks every interior kernel against the band
// kernels (the per-cell formulas with CPML checks) on the same cells of
// random fields, for every stencil, mode and element type.
func TestInteriorMatchesBand(t *testing.T) {
	for _, stencil := range []int{2, 4, 6, 8} {
		testInterior[float64](t, stencil, 1e-14)
		testInterior[float32](t, stencil, 1e-6)
	}
}

func testInterior[T Float](t *testing.T, order int, tol float64) {
	rng := rand.New(rand.NewPCG(uint64(order), 5))
	// 37 interior columns: whole vectors of either width and a tail.
	const pml = 4
	n := 2*pml + 37 + 2*order
	p := convertProblem[T](testProblem(order, 1, n-3, n, pml, false, rng))
	s := newStencil(p)
	if s.x1-s.x0 < 16 {
		t.Fatalf("stencil %d: only %d interior columns", order, s.x1-s.x0)
	}
	cells := p.cells()
	random := func() []T {
		v := make([]T, cells)
		for i := range v {
			v[i] = T(rng.NormFloat64())
		}
		return v
	}
	// buffers are every slice a view can point to.
	type buffers [21][]T
	var orig buffers
	for i := range orig {
		orig[i] = random()
	}
	viewOf := func(b *buffers, io bool) *view[T] {
		v := &view[T]{ey: b[0], eyn: b[1], hx: b[2], hz: b[3],
			mEyX: b[4], mEyXn: b[5], mEyZ: b[6], mEyZn: b[7], mHxZ: b[8], mHxZn: b[9], mHzX: b[10], mHzXn: b[11],
			ca: b[12], cb: b[13], cq: b[14]}
		if io {
			v.storeEy, v.storeCurl, v.storeZ, v.storeX = b[15], b[16], b[17], b[18]
			v.gCA, v.gCB, v.gCQ = b[19], b[20], b[15]
		}
		return v
	}
	passes := []struct {
		name     string
		band     func(*Problem[T], *stencil[T], *view[T], int, int, int)
		interior func(*stencil[T], *view[T], int, int, int)
	}{
		{"forwardH", forwardH[T], forwardHInterior[T]},
		{"forwardE", forwardE[T], forwardEInterior[T]},
		{"backwardE", backwardE[T], backwardEInterior[T]},
		{"backwardH", backwardH[T], backwardHInterior[T]},
	}
	for _, pass := range passes {
		for _, io := range []bool{false, true} {
			var want, got buffers
			for i := range orig {
				want[i] = append([]T(nil), orig[i]...)
				got[i] = append([]T(nil), orig[i]...)
			}
			vw, vg := viewOf(&want, io), viewOf(&got, io)
			if io && pass.name == "backwardH" {
				// gCQ must not alias a store it reads.
				vw.gCQ, vg.gCQ = want[19], got[19]
			}
			for y := s.h; y < p.NY-s.h; y++ {
				if s.nearY[y] {
					continue
				}
				pass.band(p, s, vw, y, s.x0, s.x1)
				pass.interior(s, vg, y*p.NX+s.x0, y*p.NX+s.x1, p.NX)
			}
			for b := range want {
				var scale, diff float64
				for i := range want[b] {
					scale = math.Max(scale, math.Abs(float64(want[b][i])))
					diff = math.Max(diff, math.Abs(float64(want[b][i]-got[b][i])))
				}
				if diff > tol*scale {
					t.Errorf("%T stencil %d %s io=%v: buffer %d differs by %.3g (scale %.3g)", T(0), order, pass.name, io, b, diff, scale)
				}
			}
		}
	}
}

// TestGeneratedKernelsCurrent checks that the committed interior kernels
// are what the generator writes: edit the generator, then go generate.
func TestGeneratedKernelsCurrent(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	if msg, err := exec.Command(goTool, "run", "./internal/gen", "-check").CombinedOutput(); err != nil {
		t.Errorf("%v: run `go generate ./kernels/maxwell`\n%s", err, msg)
	}
}

// convertProblem is a one-shot float64 test problem in T.
func convertProblem[T Float](p64 *Problem[float64]) *Problem[T] {
	conv := func(v []float64) []T {
		out := make([]T, len(v))
		for i, x := range v {
			out[i] = T(x)
		}
		return out
	}
	return &Problem[T]{NShots: 1, NY: p64.NY, NX: p64.NX, Stencil: p64.Stencil, RDY: p64.RDY, RDX: p64.RDX,
		CA: conv(p64.CA), CB: conv(p64.CB), CQ: conv(p64.CQ),
		AY: conv(p64.AY), BY: conv(p64.BY), AYH: conv(p64.AYH), BYH: conv(p64.BYH),
		AX: conv(p64.AX), BX: conv(p64.BX), AXH: conv(p64.AXH), BXH: conv(p64.BXH), StoreInterval: 1}
}
