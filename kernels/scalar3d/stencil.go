package scalar3d

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

// Axes, slowest first.
const (
	axisZ = iota
	axisY
	axisX
)

// stencil holds the weights already divided by the grid spacing, the PML
// profiles per axis, and the parts of the grid where the CPML terms are
// live.
type stencil[T Float] struct {
	h int
	// d1[a][k], d2[a][k]: weights of axis a, k = 1..h; d20[a] the centre
	// weight of the second derivative.
	d1, d2 [3][5]T
	d20    [3]T
	// lapCentre is the Laplacian's centre weight, Σ_a d20[a].
	lapCentre T
	// a, b, db: the PML profiles of each axis.
	a, b, db [3][]T
	// band[a][j]: cell j of axis a is within a half-stencil of a non-zero
	// PML coefficient, so the full CPML formula is needed there.
	band [3][]bool
	// stride[a] is the flat index step along axis a.
	stride     [3]int
	nz, ny, nx int
	// Columns [x0, x1) are outside the x band: rows outside the z and y
	// bands use the plain Laplacian on them.
	x0, x1 int
	// xBandCount[x] is the number of x-band columns before column x.
	xBandCount []int32
	// rowCoefs[a][j] and rowCoefsB[a][j], for the z and y axes (a = 0, 1),
	// are the profile values of row j that the vector row kernels
	// broadcast, forward and backward (see fwdRowCoefs, bwdRowCoefs).
	rowCoefs  [2][][12]T
	rowCoefsB [2][][44]T
	// vec holds the weights as SIMD vectors for the archsimd kernels.
	vec any
}

func newStencil[T Float](p *Problem[T]) *stencil[T] {
	s := &stencil[T]{h: p.Halo(), nz: p.NZ, ny: p.NY, nx: p.NX}
	rd := [3]float64{p.RDZ, p.RDY, p.RDX}
	for a := range 3 {
		for k, w := range firstDeriv[p.Accuracy] {
			s.d1[a][k+1] = T(w * rd[a])
		}
		for k, w := range secondDeriv[p.Accuracy] {
			s.d2[a][k+1] = T(w * rd[a] * rd[a])
		}
		s.d20[a] = T(secondDerivCentre[p.Accuracy] * rd[a] * rd[a])
	}
	s.lapCentre = s.d20[axisZ] + s.d20[axisY] + s.d20[axisX]
	s.a = [3][]T{p.AZ, p.AY, p.AX}
	s.b = [3][]T{p.BZ, p.BY, p.BX}
	s.db = [3][]T{p.DBZ, p.DBY, p.DBX}
	for a := range 3 {
		s.band[a] = band(s.h, s.a[a], s.b[a], s.db[a])
	}
	s.stride = [3]int{p.NY * p.NX, p.NX, 1}
	// The fast columns are the longest run of non-band columns.
	s.x0, s.x1 = longestRun(not(s.band[axisX]), s.h, p.NX-s.h)
	// Widen the band segments to whole vectors (8 cells): the row kernel
	// is exact on any column, and its plain-Go tail is far slower than the
	// interior kernel.
	const lanes = 8
	roundUp := func(n int) int { return (n + lanes - 1) / lanes * lanes }
	if x0, x1 := s.h+roundUp(s.x0-s.h), p.NX-s.h-roundUp(p.NX-s.h-s.x1); x0 <= x1 {
		s.x0, s.x1 = x0, x1
	}
	s.xBandCount = make([]int32, p.NX+1)
	for x, b := range s.band[axisX] {
		s.xBandCount[x+1] = s.xBandCount[x]
		if b {
			s.xBandCount[x+1]++
		}
	}
	for a := range 2 {
		n := len(s.a[a])
		s.rowCoefs[a], s.rowCoefsB[a] = make([][12]T, n), make([][44]T, n)
		for j := s.h; j < n-s.h; j++ {
			if s.band[a][j] {
				s.rowCoefs[a][j], s.rowCoefsB[a][j] = fwdRowCoefs(s, a, j), bwdRowCoefs(s, a, j)
			}
		}
	}
	s.vec = vectorCoefficients(s)
	return s
}

func not(v []bool) []bool {
	out := make([]bool, len(v))
	for i, b := range v {
		out[i] = !b
	}
	return out
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

// fwdRowCoefs are the profile values of row j of axis a that the forward
// row kernel broadcasts: a, b, ∂b, 1+b, then per k d1·a[j+k], −d1·a[j−k].
func fwdRowCoefs[T Float](s *stencil[T], a, j int) (c [12]T) {
	pa, pb, pdb := s.a[a], s.b[a], s.db[a]
	c[0], c[1], c[2], c[3] = pa[j], pb[j], pdb[j], 1+pb[j]
	for k := 1; k <= s.h; k++ {
		c[4+2*(k-1)] = s.d1[a][k] * pa[j+k]
		c[5+2*(k-1)] = -s.d1[a][k] * pa[j-k]
	}
	return c
}

// bwdRowCoefs are those of the backward row kernel: a, b, 1+b, d20·(1+b),
// then per k 1+b[j+k], b[j+k], 1+b[j−k], b[j−k], d2·(1+b[j+k]),
// d2·(1+b[j−k]), d1·∂b[j+k], d1·b[j+k], −d1·∂b[j−k], −d1·b[j−k].
func bwdRowCoefs[T Float](s *stencil[T], a, j int) (c [44]T) {
	pa, pb, pdb := s.a[a], s.b[a], s.db[a]
	c[0], c[1], c[2], c[3] = pa[j], pb[j], 1+pb[j], s.d20[a]*(1+pb[j])
	for k := 1; k <= s.h; k++ {
		q := 4 + 10*(k-1)
		d1, d2 := s.d1[a][k], s.d2[a][k]
		c[q], c[q+1], c[q+2], c[q+3] = 1+pb[j+k], pb[j+k], 1+pb[j-k], pb[j-k]
		c[q+4], c[q+5] = d2*(1+pb[j+k]), d2*(1+pb[j-k])
		c[q+6], c[q+7], c[q+8], c[q+9] = d1*pdb[j+k], d1*pb[j+k], -d1*pdb[j-k], -d1*pb[j-k]
	}
	return c
}
