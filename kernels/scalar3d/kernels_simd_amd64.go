//go:build goexperiment.simd && amd64

package scalar3d

// SIMD reports whether the kernels use archsimd vector code.
const SIMD = true

// forceGeneric makes every kernel the plain-Go one (tests compare them).
var forceGeneric = false

// setGeneric sets forceGeneric.
func setGeneric(on bool) { forceGeneric = on }

// rowKind selects the row kernel of row (z, y): bit 0 for the z band,
// bit 1 for the y band.
func (s *stencil[T]) rowKind(z, y int) int {
	k := 0
	if s.band[axisZ][z] {
		k = 1
	}
	if s.band[axisY][y] {
		k |= 2
	}
	return k
}

// xBandCells is the number of x-band columns in [x0, x1).
func (s *stencil[T]) xBandCells(x0, x1 int) int32 { return s.xBandCount[x1] - s.xBandCount[x0] }

func forwardInterior[T Float](s *stencil[T], f *fieldViews[T], i0, i1 int) {
	switch s := any(s).(type) {
	case *stencil[float32]:
		if !forceGeneric {
			fwdInteriorF32[s.h](s, any(f).(*fieldViews[float32]), i0, i1)
			return
		}
	case *stencil[float64]:
		if !forceGeneric {
			fwdInteriorF64[s.h](s, any(f).(*fieldViews[float64]), i0, i1)
			return
		}
	}
	forwardInteriorGeneric(s, f, i0, i1)
}

func backwardInterior[T Float](s *stencil[T], f *fieldViews[T], i0, i1 int) {
	switch s := any(s).(type) {
	case *stencil[float32]:
		if !forceGeneric {
			bwdInteriorF32[s.h](s, any(f).(*fieldViews[float32]), i0, i1)
			return
		}
	case *stencil[float64]:
		if !forceGeneric {
			bwdInteriorF64[s.h](s, any(f).(*fieldViews[float64]), i0, i1)
			return
		}
	}
	backwardInteriorGeneric(s, f, i0, i1)
}

func forwardRow[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	switch s := any(s).(type) {
	case *stencil[float32]:
		if !forceGeneric {
			fwdRowF32[s.h][s.rowKind(z, y)](s, any(f).(*fieldViews[float32]), z, y, x0, x1)
			return
		}
	case *stencil[float64]:
		if !forceGeneric {
			fwdRowF64[s.h][s.rowKind(z, y)](s, any(f).(*fieldViews[float64]), z, y, x0, x1)
			return
		}
	}
	forwardRowGeneric(s, f, z, y, x0, x1)
}

func backwardRow[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	switch s := any(s).(type) {
	case *stencil[float32]:
		if !forceGeneric {
			bwdRowF32[s.h][s.rowKind(z, y)](s, any(f).(*fieldViews[float32]), z, y, x0, x1)
			return
		}
	case *stencil[float64]:
		if !forceGeneric {
			bwdRowF64[s.h][s.rowKind(z, y)](s, any(f).(*fieldViews[float64]), z, y, x0, x1)
			return
		}
	}
	backwardRowGeneric(s, f, z, y, x0, x1)
}

// vectorCoefficients broadcasts the stencil's weights for the vector
// kernels.
func vectorCoefficients[T Float](s *stencil[T]) any {
	switch s := any(s).(type) {
	case *stencil[float32]:
		return newVecF32(s)
	case *stencil[float64]:
		return newVecF64(s)
	}
	return nil
}
