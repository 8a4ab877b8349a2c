package maxwell

// Staggered first-derivative weights, index k = 1..Stencil/2: the
// derivative half a cell from i is Σ w_k (f[i+k] − f[i+1−k]) / h.
var weights = map[int][]float64{
	2: {1},
	4: {9.0 / 8, -1.0 / 24},
	6: {75.0 / 64, -25.0 / 384, 3.0 / 640},
	8: {1225.0 / 1024, -245.0 / 3072, 49.0 / 5120, -5.0 / 7168},
}

// stencil holds the weights already divided by the grid spacing and the
// rows and columns where the CPML terms are live.
type stencil[T Float] struct {
	h      int
	cy, cx [5]T // index 1..h
	// liveY[y]: a CPML profile along y is non-zero at row y (whole or half
	// cell); nearY[y]: within h rows of such a row, so an adjoint stencil
	// there reads CPML terms. The same along x.
	liveY, liveX, nearY, nearX []bool
	// Columns [x0, x1) are the longest run outside nearX; on rows outside
	// nearY the interior kernels update them, with no CPML terms.
	x0, x1 int
	// vec holds the weights as vectors for the archsimd kernels.
	vec any
}

func newStencil[T Float](p *Problem[T]) *stencil[T] {
	s := &stencil[T]{h: p.Halo()}
	for k, w := range weights[p.Stencil] {
		s.cy[k+1] = T(w * p.RDY)
		s.cx[k+1] = T(w * p.RDX)
	}
	s.liveY = live(p.AY, p.BY, p.AYH, p.BYH)
	s.liveX = live(p.AX, p.BX, p.AXH, p.BXH)
	s.nearY = widen(s.liveY, s.h)
	s.nearX = widen(s.liveX, s.h)
	s.x0, s.x1 = s.h, s.h
	for x := s.h; x < p.NX-s.h; {
		e := x
		for e < p.NX-s.h && !s.nearX[e] {
			e++
		}
		if e-x > s.x1-s.x0 {
			s.x0, s.x1 = x, e
		}
		x = e + 1
	}
	s.vec = vectorCoefficients(s)
	return s
}

func live[T Float](profiles ...[]T) []bool {
	out := make([]bool, len(profiles[0]))
	for _, p := range profiles {
		for i, v := range p {
			if v != 0 {
				out[i] = true
			}
		}
	}
	return out
}

func widen(in []bool, h int) []bool {
	out := make([]bool, len(in))
	for i, v := range in {
		if !v {
			continue
		}
		for j := max(0, i-h); j <= min(len(in)-1, i+h); j++ {
			out[j] = true
		}
	}
	return out
}

// rows applies one pass to rows [y0, y1): rows near the CPML along y with
// the band kernel across the whole width, the others with the band kernel
// on the columns near the CPML and the interior kernel between. fast
// false sends every cell to the band kernel.
func (s *stencil[T]) rows(nx, y0, y1 int, fast bool, band func(y, x0, x1 int), interior func(i0, i1 int)) {
	for y := y0; y < y1; y++ {
		if !fast || s.nearY[y] {
			band(y, s.h, nx-s.h)
			continue
		}
		band(y, s.h, s.x0)
		interior(y*nx+s.x0, y*nx+s.x1)
		band(y, s.x1, nx-s.h)
	}
}
