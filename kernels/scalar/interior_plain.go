//go:build !(goexperiment.simd && amd64)

package scalar

// SIMD reports whether the interior kernels use archsimd vector code.
const SIMD = false

func forwardInterior[T Float](s *stencil[T], f *rowFields[T], i0, i1, nx int) {
	forwardInteriorGeneric(s, f, i0, i1, nx)
}

func backwardInterior[T Float](s *stencil[T], f *rowFields[T], i0, i1, nx int) {
	backwardInteriorGeneric(s, f, i0, i1, nx)
}

func forwardBand[T Float](p *Problem[T], s *stencil[T], f *rowFields[T], y0, y1, x0, x1 int) {
	for y := y0; y < y1; y++ {
		forwardCPML(p, s, f, y, x0, x1)
	}
}

func backwardBand[T Float](p *Problem[T], s *stencil[T], f *rowFields[T], y0, y1, x0, x1 int) {
	for y := y0; y < y1; y++ {
		backwardCPML(p, s, f, y, x0, x1)
	}
}

// vectorCoefficients has nothing to prepare without vector kernels.
func vectorCoefficients[T Float](*stencil[T]) any { return nil }

// xBandTables has no assembly loops to serve.
func xBandTables[T Float](*Problem[T], *stencil[T]) [4][]T { return [4][]T{} }

// interiorCoefficients has no assembly loop to serve.
func interiorCoefficients[T Float](*stencil[T]) []T { return nil }

// addProduct sets dst[i] += scale·a[i]·b[i].
func addProduct[T Float](dst []T, scale T, a, b []T) {
	_, _ = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] += scale * a[i] * b[i]
	}
}
