package scalar1d

// Central finite-difference weights for the first and second derivative,
// index k = 1..Accuracy/2 (the second derivative also has a centre
// weight): those of kernels/scalar.
var (
	firstDeriv = map[int][]float64{
		2: {1.0 / 2},
		4: {2.0 / 3, -1.0 / 12},
		6: {3.0 / 4, -3.0 / 20, 1.0 / 60},
		8: {4.0 / 5, -1.0 / 5, 4.0 / 105, -1.0 / 280},
	}
	secondDeriv = map[int][]float64{
		2: {1},
		4: {4.0 / 3, -1.0 / 12},
		6: {3.0 / 2, -3.0 / 20, 1.0 / 90},
		8: {8.0 / 5, -1.0 / 5, 8.0 / 315, -1.0 / 560},
	}
	secondDerivCentre = map[int]float64{2: -2, 4: -5.0 / 2, 6: -49.0 / 18, 8: -205.0 / 72}
)

// stencil holds the weights already divided by the grid spacing, and the
// cells where the CPML terms are live.
type stencil[T Float] struct {
	h      int
	d1, d2 [5]T // index 1..h
	d20    T
	// band[x]: the cell is within a half-stencil of a non-zero PML
	// coefficient, so the full CPML formula is needed there.
	band []bool
}

func newStencil[T Float](p *Problem[T]) *stencil[T] {
	s := &stencil[T]{h: p.Halo()}
	for k, w := range firstDeriv[p.Accuracy] {
		s.d1[k+1] = T(w * p.RDX)
	}
	for k, w := range secondDeriv[p.Accuracy] {
		s.d2[k+1] = T(w * p.RDX * p.RDX)
	}
	s.d20 = T(secondDerivCentre[p.Accuracy] * p.RDX * p.RDX)
	s.band = band(s.h, p.AX, p.BX, p.DBX)
	return s
}

// band marks the cells within h of any non-zero profile coefficient.
func band[T Float](h int, a, b, db []T) []bool {
	n := len(a)
	out := make([]bool, n)
	for i := 0; i < n; i++ {
		if a[i] == 0 && b[i] == 0 && db[i] == 0 {
			continue
		}
		for j := max(0, i-h); j <= min(n-1, i+h); j++ {
			out[j] = true
		}
	}
	return out
}

// lap is the second derivative of u at x.
func (s *stencil[T]) lap(u []T, x int) T {
	w := s.d20 * u[x]
	for k := 1; k <= s.h; k++ {
		w += s.d2[k] * (u[x+k] + u[x-k])
	}
	return w
}

// shotFields are one shot's views of the buffers a step reads and
// writes. In the backward pass u holds μ and ψ, ζ their adjoints; w is
// the stored W (read in backward, written in forward) and g the gradient
// accumulator.
type shotFields[T Float] struct {
	u, un, psi, psin, zeta, zetan []T
	c, w, g                       []T
}

// viewShot views one shot's part of every field pair.
func viewShot[T Float](p *Problem[T], f *Fields[T], shot, cur, nxt int) shotFields[T] {
	a, b := shot*p.NX, (shot+1)*p.NX
	return shotFields[T]{
		u: f.U[cur][a:b], un: f.U[nxt][a:b],
		psi: f.PsiX[cur][a:b], psin: f.PsiX[nxt][a:b],
		zeta: f.ZetaX[cur][a:b], zetan: f.ZetaX[nxt][a:b],
		c: p.modelOf(shot),
	}
}

// gather copies one shot's field values at idx into out, [shot][n];
// ignored positions (index -1) read as zero.
func gather[T Float](out, field []T, idx []int64, shot, n, cells int) {
	for r := 0; r < n; r++ {
		j := shot*n + r
		if idx[j] < 0 {
			out[j] = 0
			continue
		}
		out[j] = field[shot*cells+int(idx[j])]
	}
}

// scatterAdd adds one shot's amp, [shot][n], into field at idx, each
// value multiplied by scale at that cell when scale is set.
func scatterAdd[T Float](field, amp []T, idx []int64, shot, n, cells int, scale []T) {
	for r := 0; r < n; r++ {
		j := shot*n + r
		if idx[j] < 0 {
			continue
		}
		v := amp[j]
		if scale != nil {
			v *= scale[idx[j]]
		}
		field[shot*cells+int(idx[j])] += v
	}
}
