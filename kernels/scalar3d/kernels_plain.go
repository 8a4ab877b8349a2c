//go:build !(goexperiment.simd && amd64)

package scalar3d

// SIMD reports whether the kernels use archsimd vector code.
const SIMD = false

func forwardInterior[T Float](s *stencil[T], f *fieldViews[T], i0, i1 int) {
	forwardInteriorGeneric(s, f, i0, i1)
}

func backwardInterior[T Float](s *stencil[T], f *fieldViews[T], i0, i1 int) {
	backwardInteriorGeneric(s, f, i0, i1)
}

func forwardRow[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	forwardRowGeneric(s, f, z, y, x0, x1)
}

func backwardRow[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	backwardRowGeneric(s, f, z, y, x0, x1)
}

// setGeneric has no effect: every kernel is the plain-Go one.
func setGeneric(bool) {}

// vectorCoefficients has nothing to prepare without vector kernels.
func vectorCoefficients[T Float](*stencil[T]) any { return nil }
