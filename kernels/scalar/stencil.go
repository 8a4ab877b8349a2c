package scalar

// Central finite-difference weights for the first and second derivative,
// index k = 1..Accuracy/2 (the second derivative also has a centre weight).
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
// parts of the grid where the CPML terms are live.
type stencil[T Float] struct {
	h        int
	d1y, d1x [5]T // index 1..h
	d2y, d2x [5]T
	d2y0     T
	d2x0     T
	// band[y] / bandX[x]: the row or column is within a half-stencil of a
	// non-zero PML coefficient, so the full CPML formula is needed there.
	bandY, bandX []bool
	// Columns [x0, x1) are outside the x band; rows outside bandY use the
	// plain Laplacian on them.
	x0, x1 int
	// xTables are the x-band segments' coefficient tables for the
	// assembly loops (xBandTables), when there are such loops.
	xTables [4][]T
	// interiorCoef are the weights of the assembly interior loop.
	interiorCoef []T
	// vec holds the weights as SIMD vectors for the archsimd kernels.
	vec any
}

func newStencil[T Float](p *Problem[T]) *stencil[T] {
	s := &stencil[T]{h: p.Halo()}
	for k, w := range firstDeriv[p.Accuracy] {
		s.d1y[k+1] = T(w * p.RDY)
		s.d1x[k+1] = T(w * p.RDX)
	}
	for k, w := range secondDeriv[p.Accuracy] {
		s.d2y[k+1] = T(w * p.RDY * p.RDY)
		s.d2x[k+1] = T(w * p.RDX * p.RDX)
	}
	s.d2y0 = T(secondDerivCentre[p.Accuracy] * p.RDY * p.RDY)
	s.d2x0 = T(secondDerivCentre[p.Accuracy] * p.RDX * p.RDX)
	s.bandY = band(s.h, p.AY, p.BY, p.DBY)
	s.bandX = band(s.h, p.AX, p.BX, p.DBX)
	// The fast columns are the longest run of non-band columns.
	best, start := 0, -1
	for x := s.h; x <= p.NX-s.h; x++ {
		if x < p.NX-s.h && !s.bandX[x] {
			if start < 0 {
				start = x
			}
			continue
		}
		if start >= 0 && x-start > best {
			best, s.x0, s.x1 = x-start, start, x
		}
		start = -1
	}
	if best == 0 {
		s.x0, s.x1 = s.h, s.h
	}
	// Widen the band segments to whole vectors (8 cells): the band kernel
	// is exact on any column, and its scalar tail is far slower than the
	// interior kernel's.
	const lanes = 8
	roundUp := func(n int) int { return (n + lanes - 1) / lanes * lanes }
	if x0, x1 := s.h+roundUp(s.x0-s.h), p.NX-s.h-roundUp(p.NX-s.h-s.x1); x0 <= x1 {
		s.x0, s.x1 = x0, x1
	}
	s.vec = vectorCoefficients(s)
	s.xTables = xBandTables(p, s)
	s.interiorCoef = interiorCoefficients(s)
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
