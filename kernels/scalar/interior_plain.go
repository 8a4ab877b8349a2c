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
