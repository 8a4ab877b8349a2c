//go:build goexperiment.simd && amd64

package scalar3d

// SIMD reports whether the kernels use archsimd vector code.
const SIMD = true

// forceGeneric makes every kernel the plain-Go one (tests compare them).
var forceGeneric = false

// setGeneric sets forceGeneric.
func setGeneric(on bool) { forceGeneric = on }

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
			fwdRowF32[s.h](s, any(f).(*fieldViews[float32]), z, y, x0, x1)
			return
		}
	case *stencil[float64]:
		if !forceGeneric {
			fwdRowF64[s.h](s, any(f).(*fieldViews[float64]), z, y, x0, x1)
			return
		}
	}
	forwardRowGeneric(s, f, z, y, x0, x1)
}

func backwardRow[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	switch s := any(s).(type) {
	case *stencil[float32]:
		if !forceGeneric {
			bwdRowF32[s.h](s, any(f).(*fieldViews[float32]), z, y, x0, x1)
			return
		}
	case *stencil[float64]:
		if !forceGeneric {
			bwdRowF64[s.h](s, any(f).(*fieldViews[float64]), z, y, x0, x1)
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
