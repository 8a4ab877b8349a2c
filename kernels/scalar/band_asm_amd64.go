//go:build goexperiment.simd && amd64

package scalar

import (
	"simd/archsimd"
	"unsafe"
)

// The float32 band loops in zz_generated_band_amd64.s (written by internal/gen) take
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

// segmentArgs are the operands of an x-band segment's assembly loop,
// forward or adjoint, without W.
func segmentArgs(p *Problem[float32], s *stencil[float32], f *rowFields[float32], t []float32, y0, y1, x0, x1 int) bandXArgs {
	const size = 4
	nx := p.NX
	at := func(v []float32, i int) unsafe.Pointer {
		return unsafe.Add(unsafe.Pointer(unsafe.SliceData(v)), i*size)
	}
	i := y0*nx + x0
	return bandXArgs{u: at(f.u, i-s.h*nx), psi: at(f.psiX, i), zeta: at(f.zetaX, i), psin: at(f.psiXn, i), zetan: at(f.zetaXn, i),
		un: at(f.un, i), c: at(f.c, i), table: unsafe.Pointer(unsafe.SliceData(t)), nvec: (x1 - x0) / 8, rows: y1 - y0, stride: nx * size}
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
// assembly loops: forward, then backward; nil for float64 or a segment
// that is not whole vectors.
func xBandTables[T Float](p *Problem[T], s *stencil[T]) [4][]T {
	var out [4][]T
	if _, ok := any(s).(*stencil[float32]); !ok {
		return out
	}
	for i, seg := range [2][2]int{{s.h, s.x0}, {s.x1, p.NX - s.h}} {
		if n := seg[1] - seg[0]; n > 0 && n%8 == 0 {
			out[i] = xBandTable(p, s, seg[0], seg[1])
			out[2+i] = xBackwardTable(p, s, seg[0], seg[1])
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
		col := func(f func(x int) T) {
			for j := x; j < x+8; j++ {
				t = append(t, f(j))
			}
		}
		col(func(x int) T { return p.AX[x] })
		col(func(x int) T { return p.BX[x] })
		col(func(x int) T { return 1 + p.BX[x] })
		col(func(x int) T { return p.DBX[x] })
		for k := 1; k <= s.h; k++ {
			d1 := s.d1x[k]
			col(func(x int) T { return d1 * p.AX[x+k] })
			col(func(x int) T { return -d1 * p.AX[x-k] })
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
	g                 unsafe.Pointer // the gradient, for interiorGradF32A<acc>
}

//go:noescape
func interiorF32A2(a *interiorArgs)

//go:noescape
func interiorF32A4(a *interiorArgs)

//go:noescape
func interiorF32A6(a *interiorArgs)

//go:noescape
func interiorF32A8(a *interiorArgs)

// interiorKernelsF32 are the assembly interior loops: forward, then with
// the gradient, by half-stencil h.
var interiorKernelsF32 = [2][5]func(*interiorArgs){
	{1: interiorF32A2, 2: interiorF32A4, 3: interiorF32A6, 4: interiorF32A8},
	{1: interiorGradF32A2, 2: interiorGradF32A4, 3: interiorGradF32A6, 4: interiorGradF32A8},
}

// interiorF32 is forwardInterior for float32, and backwardInterior when
// f.g is set (W read from f.w, g += W·μ): whole vectors in assembly, the
// tail in Go.
func interiorF32(s *stencil[float32], f *rowFields[float32], i0, i1, nx int) {
	const size = 4
	grad := f.g != nil
	n := (i1 - i0) / 8
	if n > 0 {
		// One bounds check for the extreme cells the loop touches.
		last := i0 + 8*n - 1
		_, _ = f.u[i0-s.h*nx-s.h], f.u[last+s.h*nx+s.h]
		_, _ = f.un[last], f.c[last]
		at := func(v []float32, i int) unsafe.Pointer {
			return unsafe.Add(unsafe.Pointer(unsafe.SliceData(v)), i*size)
		}
		a := interiorArgs{u: at(f.u, i0-s.h*nx), un: at(f.un, i0), c: at(f.c, i0), coef: unsafe.Pointer(&s.interiorCoef[0]), n: n, stride: nx * size}
		if f.w != nil {
			_ = f.w[last]
			a.w = at(f.w, i0)
		}
		if grad {
			_ = f.g[last]
			a.g = at(f.g, i0)
		}
		k := 0
		if grad {
			k = 1
		}
		interiorKernelsF32[k][s.h](&a)
	}
	if i := i0 + 8*n; i < i1 {
		if grad {
			backwardInteriorGeneric(s, f, i, i1, nx)
		} else {
			forwardInteriorGeneric(s, f, i, i1, nx)
		}
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

// backwardYArgs are the y terms of backwardCPML on n vectors of a y-band
// row: mu, psi and zeta point at row y−h, psin and zetan at row y, all at
// the first column; sum receives the y terms. coef is laid out as
// backwardYF32A<acc> reads it (see internal/gen).
type backwardYArgs struct {
	mu, psi, zeta, psin, zetan, sum unsafe.Pointer
	n, stride                       int
	coef                            [4 + 12*4][8]float32
}

// backwardYWeights sets the weights of rows y±k: b and b' of row y+k (bu,
// dbu) and of row y−k (bd, dbd), with the stencil weights d1 and d2 folded
// in.
func backwardYWeights(a *backwardYArgs, k int, d1, d2, bu, dbu, bd, dbd float32) {
	c := a.coef[4+12*(k-1):]
	c[0], c[1], c[2], c[3] = splat(1+bu), splat(bu), splat(1+bd), splat(bd)
	c[4], c[5] = splat(d2*(1+bu)), splat(d2*(1+bd))
	c[6], c[7], c[8], c[9] = splat(d1*dbu), splat(d1*bu), splat(-d1*dbd), splat(-d1*bd)
	c[10], c[11] = splat(d1), splat(-d1)
}

//go:noescape
func interiorGradF32A2(a *interiorArgs)

//go:noescape
func interiorGradF32A4(a *interiorArgs)

//go:noescape
func interiorGradF32A6(a *interiorArgs)

//go:noescape
func interiorGradF32A8(a *interiorArgs)

//go:noescape
func backwardYF32A2(a *backwardYArgs)

//go:noescape
func backwardYF32A4(a *backwardYArgs)

//go:noescape
func backwardYF32A6(a *backwardYArgs)

//go:noescape
func backwardYF32A8(a *backwardYArgs)

//go:noescape
func backwardXF32A2(a *bandXArgs)

//go:noescape
func backwardXF32A4(a *bandXArgs)

//go:noescape
func backwardXF32A6(a *bandXArgs)

//go:noescape
func backwardXF32A8(a *bandXArgs)

// xBackwardTable lays out what backwardXF32A<acc> reads, in its order:
// cY, 2, then for each k d2y, d1x, −d1x; then per vector of columns ax,
// (1+bx)·cX, 1+bx, bx, and for each k 1+b and b of columns x+k and x−k
// and the weights of the second and first derivatives and of ψ.
func xBackwardTable[T Float](p *Problem[T], s *stencil[T], x0, x1 int) []T {
	var t []T
	bc := func(v T) {
		for range 8 {
			t = append(t, v)
		}
	}
	bc(s.d2y0)
	bc(2)
	for k := 1; k <= s.h; k++ {
		bc(s.d2y[k])
		bc(s.d1x[k])
		bc(-s.d1x[k])
	}
	for x := x0; x < x1; x += 8 {
		col := func(f func(x int) T) {
			for j := x; j < x+8; j++ {
				t = append(t, f(j))
			}
		}
		col(func(x int) T { return p.AX[x] })
		col(func(x int) T { return (1 + p.BX[x]) * s.d2x0 })
		col(func(x int) T { return 1 + p.BX[x] })
		col(func(x int) T { return p.BX[x] })
		for k := 1; k <= s.h; k++ {
			d1, d2 := s.d1x[k], s.d2x[k]
			col(func(x int) T { return 1 + p.BX[x+k] })
			col(func(x int) T { return p.BX[x+k] })
			col(func(x int) T { return 1 + p.BX[x-k] })
			col(func(x int) T { return p.BX[x-k] })
			col(func(x int) T { return d2 * (1 + p.BX[x+k]) })
			col(func(x int) T { return d2 * (1 + p.BX[x-k]) })
			col(func(x int) T { return d1 * p.DBX[x+k] })
			col(func(x int) T { return d1 * p.BX[x+k] })
			col(func(x int) T { return -d1 * p.DBX[x-k] })
			col(func(x int) T { return -d1 * p.BX[x-k] })
		}
	}
	return t
}

// xTableBackward returns the backward table of the segment [x0, x1), or
// nil.
func (s *stencil[T]) xTableBackward(p *Problem[T], x0, x1 int) []T {
	switch {
	case x0 == s.h && x1 == s.x0:
		return s.xTables[2]
	case x0 == s.x1 && x1 == p.NX-s.h:
		return s.xTables[3]
	}
	return nil
}

// addProductRowsF32 sets g += w·u on n cells (a multiple of 8) of each of
// rows rows from cell i, rows stride apart: the gradient of the x-band
// segments, a few vectors per row, without a call per row.
func addProductRowsF32(g, w, u []float32, i, rows, n, stride int) {
	if rows == 0 {
		return
	}
	last := i + (rows-1)*stride + n - 1
	_, _, _ = g[last], w[last], u[last]
	pg, pw, pu := unsafe.Pointer(unsafe.SliceData(g)), unsafe.Pointer(unsafe.SliceData(w)), unsafe.Pointer(unsafe.SliceData(u))
	for r := 0; r < rows; r++ {
		for j := i + r*stride; j < i+r*stride+n; j += 8 {
			at := func(p unsafe.Pointer) *[8]float32 { return (*[8]float32)(unsafe.Add(p, 4*j)) }
			archsimd.LoadFloat32x8(at(pw)).MulAdd(archsimd.LoadFloat32x8(at(pu)), archsimd.LoadFloat32x8(at(pg))).Store(at(pg))
		}
	}
	archsimd.ClearAVXUpperBits()
}
