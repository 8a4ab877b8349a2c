//go:build goexperiment.simd && amd64

package scalar

import "unsafe"

// The float32 band loops in band_amd64.s (written by internal/gen) take
// their operands in these structs; the field order is their layout.

// bandYArgs are the y terms of n vectors of a y-band row: u and psi point
// at row y−h, the others at row y, all at the first column; wy receives
// the y terms of W. coef holds ay, by, b'y, 1+by, the centre weight,
// then for each k d1y, d2y and the ψ weights of rows y+k and y−k.
type bandYArgs struct {
	u, psi, zeta, psin, zetan, wy unsafe.Pointer
	n, stride                     int
	coef                          [5 + 4*4][8]float32
}

// bandXArgs are an x-band segment of rows outside the y band: u points at
// row y0−h, the others at row y0, all at the segment's first column; w
// is nil unless W is stored. table is the segment's xBandTable.
type bandXArgs struct {
	u, psi, zeta, psin, zetan, un, c, w, table unsafe.Pointer
	nvec, rows, stride                         int
}

//go:noescape
func bandYF32A2(a *bandYArgs)

//go:noescape
func bandYF32A4(a *bandYArgs)

//go:noescape
func bandYF32A6(a *bandYArgs)

//go:noescape
func bandYF32A8(a *bandYArgs)

//go:noescape
func bandXF32A2(a *bandXArgs)

//go:noescape
func bandXF32A4(a *bandXArgs)

//go:noescape
func bandXF32A6(a *bandXArgs)

//go:noescape
func bandXF32A8(a *bandXArgs)

// xBandTables builds the coefficient tables of the two x-band segments a
// row outside the y band has, [h, x0) and [x1, NX−h), for the float32
// assembly loop; nil for float64 or a segment that is not whole vectors.
func xBandTables[T Float](p *Problem[T], s *stencil[T]) [2][]T {
	var out [2][]T
	if _, ok := any(s).(*stencil[float32]); !ok {
		return out
	}
	for i, seg := range [2][2]int{{s.h, s.x0}, {s.x1, p.NX - s.h}} {
		if n := seg[1] - seg[0]; n > 0 && n%8 == 0 {
			out[i] = xBandTable(p, s, seg[0], seg[1])
		}
	}
	return out
}

// xBandTable lays out what bandXF32A<acc> reads, in its order: the
// stencil weights as vectors (cY, cX, 2, then for each k d2y, d1x, d2x),
// then per vector of columns ax, bx, 1+bx, b'x and for each k the ψ
// weights of columns x+k and x−k.
func xBandTable[T Float](p *Problem[T], s *stencil[T], x0, x1 int) []T {
	var t []T
	bc := func(v T) {
		for range 8 {
			t = append(t, v)
		}
	}
	bc(s.d2y0)
	bc(s.d2x0)
	bc(2)
	for k := 1; k <= s.h; k++ {
		bc(s.d2y[k])
		bc(s.d1x[k])
		bc(s.d2x[k])
	}
	for x := x0; x < x1; x += 8 {
		cols := func(v []T) { t = append(t, v[x:x+8]...) }
		cols(p.AX)
		cols(p.BX)
		cols(s.opbX)
		cols(p.DBX)
		for k := 1; k <= s.h; k++ {
			cols(s.cxUp[k])
			cols(s.cxDn[k])
		}
	}
	return t
}

// xTable returns the table of the segment [x0, x1), or nil.
func (s *stencil[T]) xTable(p *Problem[T], x0, x1 int) []T {
	switch {
	case x0 == s.h && x1 == s.x0:
		return s.xTables[0]
	case x0 == s.x1 && x1 == p.NX-s.h:
		return s.xTables[1]
	}
	return nil
}

// splat is v in every lane.
func splat(v float32) (out [8]float32) {
	for i := range out {
		out[i] = v
	}
	return out
}

// interiorArgs are n vectors of forwardInterior: u points at row −h, the
// others at the first cell; w is nil unless W is stored. coef is the
// stencil's interiorCoef.
type interiorArgs struct {
	u, un, c, w, coef unsafe.Pointer
	n, stride         int
}

//go:noescape
func interiorF32A2(a *interiorArgs)

//go:noescape
func interiorF32A4(a *interiorArgs)

//go:noescape
func interiorF32A6(a *interiorArgs)

//go:noescape
func interiorF32A8(a *interiorArgs)

// interiorF32 is forwardInterior for float32: whole vectors in assembly,
// the tail in Go.
func interiorF32(s *stencil[float32], f *rowFields[float32], i0, i1, nx int) {
	const size = 4
	n := (i1 - i0) / 8
	if n > 0 {
		// One bounds check for the extreme cells the loop touches.
		_, _ = f.u[i0-s.h*nx-s.h], f.u[i0+8*n-1+s.h*nx+s.h]
		_, _ = f.un[i0+8*n-1], f.c[i0+8*n-1]
		at := func(v []float32, i int) unsafe.Pointer {
			return unsafe.Add(unsafe.Pointer(unsafe.SliceData(v)), i*size)
		}
		a := interiorArgs{u: at(f.u, i0-s.h*nx), un: at(f.un, i0), c: at(f.c, i0), coef: unsafe.Pointer(&s.interiorCoef[0]), n: n, stride: nx * size}
		if f.w != nil {
			_ = f.w[i0+8*n-1]
			a.w = at(f.w, i0)
		}
		switch s.h {
		case 1:
			interiorF32A2(&a)
		case 2:
			interiorF32A4(&a)
		case 3:
			interiorF32A6(&a)
		case 4:
			interiorF32A8(&a)
		}
	}
	if i := i0 + 8*n; i < i1 {
		forwardInteriorGeneric(s, f, i, i1, nx)
	}
}

// interiorCoefficients lays out the weights interiorF32A<acc> loads: the
// centre weight, 2, then d2y[k] and d2x[k] for each k, each as a vector.
func interiorCoefficients[T Float](s *stencil[T]) []T {
	var t []T
	bc := func(v T) {
		for range 8 {
			t = append(t, v)
		}
	}
	bc(s.d2y0 + s.d2x0)
	bc(2)
	for k := 1; k <= s.h; k++ {
		bc(s.d2y[k])
		bc(s.d2x[k])
	}
	return t
}
