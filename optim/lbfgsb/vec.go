package lbfgsb

// dot and dotw share one summation order, so a weight of exactly 1 gives
// bit-for-bit the same sum as no weight: an identity preconditioner then
// reproduces the unpreconditioned iterates exactly.

// dot returns aᵀb.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotw returns Σ a[i]·w[i]·b[i].
func dotw(a, w, b []float64) float64 {
	w = w[:len(a)]
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * w[i] * b[i]
		s1 += a[i+1] * w[i+1] * b[i+1]
		s2 += a[i+2] * w[i+2] * b[i+2]
		s3 += a[i+3] * w[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * w[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy sets y += a·x.
func axpy(a float64, x, y []float64) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
