//go:build !(goexperiment.simd && amd64)

package maxwell

// SIMD reports whether the interior kernels use archsimd vector code.
const SIMD = false

func forwardHInterior[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {
	forwardHInteriorGo(s, v, i0, i1, nx)
}

func forwardEInterior[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {
	forwardEInteriorGo(s, v, i0, i1, nx)
}

func backwardEInterior[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {
	backwardEInteriorGo(s, v, i0, i1, nx)
}

func backwardHInterior[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {
	backwardHInteriorGo(s, v, i0, i1, nx)
}

// vectorCoefficients has nothing to prepare without vector kernels.
func vectorCoefficients[T Float](*stencil[T]) any { return nil }

func forwardH[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	forwardHGeneric(p, s, v, y, x0, x1)
}

func forwardE[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	forwardEGeneric(p, s, v, y, x0, x1)
}

func backwardE[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	backwardEGeneric(p, s, v, y, x0, x1)
}

func backwardH[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	backwardHGeneric(p, s, v, y, x0, x1)
}
