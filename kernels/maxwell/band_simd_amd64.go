//go:build goexperiment.simd && amd64

package maxwell

import (
	"simd/archsimd"
	"unsafe"
)

// The CPML band of the forward step, 8 float32 cells at a time; float64
// and the tails take the scalar loops. A vector whose columns are partly
// in an x profile and partly not also takes the scalar loop, which leaves
// the memory fields of the columns outside untouched.

func forwardH[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	if p, ok := any(p).(*Problem[float32]); ok {
		forwardHF32(p, any(s).(*stencil[float32]), any(v).(*view[float32]), y, x0, x1)
		return
	}
	forwardHGeneric(p, s, v, y, x0, x1)
}

func forwardE[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	if p, ok := any(p).(*Problem[float32]); ok {
		forwardEF32(p, any(s).(*stencil[float32]), any(v).(*view[float32]), y, x0, x1)
		return
	}
	forwardEGeneric(p, s, v, y, x0, x1)
}

func ptr32(s []float32) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

func load32(p unsafe.Pointer, i int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 4*i)))
}

func store32(x archsimd.Float32x8, p unsafe.Pointer, i int) {
	x.Store((*[8]float32)(unsafe.Add(p, 4*i)))
}

// checkBandRow checks that every cell a band kernel reads or writes on
// columns [x0, x1) of row y, stencil h rows and columns around, is inside
// the shot's fields, so that the vector loop may use raw pointers.
func checkBandRow(n, nx, h, y, x0, x1 int) bool {
	return (y-h)*nx+x0-h >= 0 && (y+h)*nx+x1+h <= n
}

func forwardHF32(p *Problem[float32], s *stencil[float32], v *view[float32], y, x0, x1 int) {
	nx, h := p.NX, s.h
	n := len(v.ey)
	if x1-x0 < 8 || !checkBandRow(n, nx, h, y, x0, x1) || len(v.hx) < n || len(v.hz) < n || len(v.cq) < n ||
		len(v.mEyZ) < n || len(v.mEyX) < n || len(p.AXH) < x1 || len(p.BXH) < x1 ||
		(v.storeZ != nil && len(v.storeZ) < n) || (v.storeX != nil && len(v.storeX) < n) {
		forwardHGeneric(p, s, v, y, x0, x1)
		return
	}
	var cy, cx [5]archsimd.Float32x8
	for k := 1; k <= h; k++ {
		cy[k], cx[k] = archsimd.BroadcastFloat32x8(s.cy[k]), archsimd.BroadcastFloat32x8(s.cx[k])
	}
	liveY := s.liveY[y]
	ayh, byh := archsimd.BroadcastFloat32x8(p.AYH[y]), archsimd.BroadcastFloat32x8(p.BYH[y])
	ey, hx, hz, cq := ptr32(v.ey), ptr32(v.hx), ptr32(v.hz), ptr32(v.cq)
	mz, mx, axh, bxh := ptr32(v.mEyZ), ptr32(v.mEyX), ptr32(p.AXH), ptr32(p.BXH)
	sz, sx := ptr32(v.storeZ), ptr32(v.storeX)
	x := x0
	for ; x+8 <= x1; x += 8 {
		liveX := s.liveX[x]
		if liveX != s.liveX[x+7] {
			archsimd.ClearAVXUpperBits()
			forwardHGeneric(p, s, v, y, x, x+8)
			continue
		}
		i := y*nx + x
		var dz, dx archsimd.Float32x8
		for k := 1; k <= h; k++ {
			dz = load32(ey, i+k*nx).Sub(load32(ey, i-(k-1)*nx)).MulAdd(cy[k], dz)
			dx = load32(ey, i+k).Sub(load32(ey, i-(k-1))).MulAdd(cx[k], dx)
		}
		if liveY {
			m := ayh.MulAdd(dz, byh.Mul(load32(mz, i)))
			store32(m, mz, i)
			dz = dz.Add(m)
		}
		if liveX {
			m := load32(axh, x).MulAdd(dx, load32(bxh, x).Mul(load32(mx, i)))
			store32(m, mx, i)
			dx = dx.Add(m)
		}
		if sz != nil {
			store32(dz, sz, i)
		}
		if sx != nil {
			store32(dx, sx, i)
		}
		c := load32(cq, i)
		store32(load32(hx, i).Sub(c.Mul(dz)), hx, i)
		store32(load32(hz, i).Add(c.Mul(dx)), hz, i)
	}
	archsimd.ClearAVXUpperBits()
	if x < x1 {
		forwardHGeneric(p, s, v, y, x, x1)
	}
}

func forwardEF32(p *Problem[float32], s *stencil[float32], v *view[float32], y, x0, x1 int) {
	nx, h := p.NX, s.h
	n := len(v.ey)
	if x1-x0 < 8 || !checkBandRow(n, nx, h, y, x0, x1) || len(v.hx) < n || len(v.hz) < n || len(v.ca) < n || len(v.cb) < n ||
		len(v.mHxZ) < n || len(v.mHzX) < n || len(p.AX) < x1 || len(p.BX) < x1 ||
		(v.storeEy != nil && len(v.storeEy) < n) || (v.storeCurl != nil && len(v.storeCurl) < n) {
		forwardEGeneric(p, s, v, y, x0, x1)
		return
	}
	var cy, cx [5]archsimd.Float32x8
	for k := 1; k <= h; k++ {
		cy[k], cx[k] = archsimd.BroadcastFloat32x8(s.cy[k]), archsimd.BroadcastFloat32x8(s.cx[k])
	}
	liveY := s.liveY[y]
	ay, by := archsimd.BroadcastFloat32x8(p.AY[y]), archsimd.BroadcastFloat32x8(p.BY[y])
	ey, hx, hz, ca, cb := ptr32(v.ey), ptr32(v.hx), ptr32(v.hz), ptr32(v.ca), ptr32(v.cb)
	mz, mx, ax, bx := ptr32(v.mHxZ), ptr32(v.mHzX), ptr32(p.AX), ptr32(p.BX)
	sey, scurl := ptr32(v.storeEy), ptr32(v.storeCurl)
	x := x0
	for ; x+8 <= x1; x += 8 {
		liveX := s.liveX[x]
		if liveX != s.liveX[x+7] {
			archsimd.ClearAVXUpperBits()
			forwardEGeneric(p, s, v, y, x, x+8)
			continue
		}
		i := y*nx + x
		var ez, ex archsimd.Float32x8
		for k := 1; k <= h; k++ {
			ez = load32(hx, i+(k-1)*nx).Sub(load32(hx, i-k*nx)).MulAdd(cy[k], ez)
			ex = load32(hz, i+k-1).Sub(load32(hz, i-k)).MulAdd(cx[k], ex)
		}
		if liveY {
			m := ay.MulAdd(ez, by.Mul(load32(mz, i)))
			store32(m, mz, i)
			ez = ez.Add(m)
		}
		if liveX {
			m := load32(ax, x).MulAdd(ex, load32(bx, x).Mul(load32(mx, i)))
			store32(m, mx, i)
			ex = ex.Add(m)
		}
		curl := ex.Sub(ez)
		e := load32(ey, i)
		if sey != nil {
			store32(e, sey, i)
		}
		if scurl != nil {
			store32(curl, scurl, i)
		}
		store32(load32(cb, i).MulAdd(curl, load32(ca, i).Mul(e)), ey, i)
	}
	archsimd.ClearAVXUpperBits()
	if x < x1 {
		forwardEGeneric(p, s, v, y, x, x1)
	}
}

func backwardE[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	if p, ok := any(p).(*Problem[float32]); ok {
		backwardEF32(p, any(s).(*stencil[float32]), any(v).(*view[float32]), y, x0, x1)
		return
	}
	backwardEGeneric(p, s, v, y, x0, x1)
}

func backwardH[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	if p, ok := any(p).(*Problem[float32]); ok {
		backwardHF32(p, any(s).(*stencil[float32]), any(v).(*view[float32]), y, x0, x1)
		return
	}
	backwardHGeneric(p, s, v, y, x0, x1)
}

// uniform reports whether the 8 columns from x are all in or all out of
// both masks, so that one vector takes one branch for all of them.
func uniform(near, live []bool, x int) bool {
	for j := x + 1; j < x+8; j++ {
		if near[j] != near[x] || live[j] != live[x] {
			return false
		}
	}
	return true
}

func backwardEF32(p *Problem[float32], s *stencil[float32], v *view[float32], y, x0, x1 int) {
	nx, h := p.NX, s.h
	n := len(v.ey)
	if x1-x0 < 8 || !checkBandRow(n, nx, h, y, x0, x1) || len(v.eyn) < n || len(v.hx) < n || len(v.hz) < n ||
		len(v.ca) < n || len(v.cb) < n || len(v.mHxZ) < n || len(v.mHzX) < n || len(v.mHxZn) < n || len(v.mHzXn) < n ||
		len(p.AX) < x1+h || len(p.BX) < x1 || len(p.AY) < y+h+1 ||
		(v.gCA != nil && (len(v.gCA) < n || len(v.storeEy) < n)) || (v.gCB != nil && (len(v.gCB) < n || len(v.storeCurl) < n)) {
		backwardEGeneric(p, s, v, y, x0, x1)
		return
	}
	bc := archsimd.BroadcastFloat32x8
	// Row weights: the y-CPML adjoint reads rows y−(k−1) (dn) and y+k (up).
	var cy, cx, ayUp, ayDn, opUp, opDn [5]archsimd.Float32x8
	for k := 1; k <= h; k++ {
		cy[k], cx[k] = bc(s.cy[k]), bc(s.cx[k])
		ayUp[k], ayDn[k] = bc(p.AY[y+k]), bc(p.AY[y-(k-1)])
		opUp[k], opDn[k] = bc(1+p.AY[y+k]), bc(1+p.AY[y-(k-1)])
	}
	one := bc(1)
	nearY, liveY := s.nearY[y], s.liveY[y]
	by := bc(p.BY[y])
	lam, eyn, hx, hz, ca, cb := ptr32(v.ey), ptr32(v.eyn), ptr32(v.hx), ptr32(v.hz), ptr32(v.ca), ptr32(v.cb)
	mz, mx, mzn, mxn, ax, bx := ptr32(v.mHxZ), ptr32(v.mHzX), ptr32(v.mHxZn), ptr32(v.mHzXn), ptr32(p.AX), ptr32(p.BX)
	gca, gcb, sey, scurl := ptr32(v.gCA), ptr32(v.gCB), ptr32(v.storeEy), ptr32(v.storeCurl)
	cbl := func(i int) archsimd.Float32x8 { return load32(cb, i).Mul(load32(lam, i)) }
	x := x0
	for ; x+8 <= x1; x += 8 {
		if !uniform(s.nearX, s.liveX, x) {
			archsimd.ClearAVXUpperBits()
			backwardEGeneric(p, s, v, y, x, x+8)
			continue
		}
		i := y*nx + x
		var dz, dx archsimd.Float32x8
		if nearY {
			for k := 1; k <= h; k++ {
				dn, up := i-(k-1)*nx, i+k*nx
				qdn := ayDn[k].Mul(load32(mz, dn)).Sub(cbl(dn).Mul(opDn[k]))
				qup := ayUp[k].Mul(load32(mz, up)).Sub(cbl(up).Mul(opUp[k]))
				dz = qdn.Sub(qup).MulAdd(cy[k], dz)
			}
		} else {
			for k := 1; k <= h; k++ {
				dz = cbl(i+k*nx).Sub(cbl(i-(k-1)*nx)).MulAdd(cy[k], dz)
			}
		}
		if s.nearX[x] {
			for k := 1; k <= h; k++ {
				l, r := i-(k-1), i+k
				al, ar := load32(ax, x-(k-1)), load32(ax, x+k)
				ql := al.Mul(load32(mx, l)).Add(cbl(l).Mul(one.Add(al)))
				qr := ar.Mul(load32(mx, r)).Add(cbl(r).Mul(one.Add(ar)))
				dx = ql.Sub(qr).MulAdd(cx[k], dx)
			}
		} else {
			for k := 1; k <= h; k++ {
				dx = cbl(i-(k-1)).Sub(cbl(i+k)).MulAdd(cx[k], dx)
			}
		}
		store32(load32(hx, i).Add(dz), hx, i)
		store32(load32(hz, i).Add(dx), hz, i)
		l := load32(lam, i)
		g := load32(cb, i).Mul(l)
		if liveY {
			store32(by.Mul(load32(mz, i).Sub(g)), mzn, i)
		}
		if s.liveX[x] {
			store32(load32(bx, x).Mul(load32(mx, i).Add(g)), mxn, i)
		}
		if gca != nil {
			store32(l.MulAdd(load32(sey, i), load32(gca, i)), gca, i)
		}
		if gcb != nil {
			store32(l.MulAdd(load32(scurl, i), load32(gcb, i)), gcb, i)
		}
		store32(load32(ca, i).Mul(l), eyn, i)
	}
	archsimd.ClearAVXUpperBits()
	if x < x1 {
		backwardEGeneric(p, s, v, y, x, x1)
	}
}

func backwardHF32(p *Problem[float32], s *stencil[float32], v *view[float32], y, x0, x1 int) {
	nx, h := p.NX, s.h
	n := len(v.ey)
	if x1-x0 < 8 || !checkBandRow(n, nx, h, y, x0, x1) || len(v.eyn) < n || len(v.hx) < n || len(v.hz) < n ||
		len(v.cq) < n || len(v.mEyZ) < n || len(v.mEyX) < n || len(v.mEyZn) < n || len(v.mEyXn) < n ||
		len(p.AXH) < x1+h || len(p.BXH) < x1 || len(p.AYH) < y+h ||
		(v.gCQ != nil && (len(v.gCQ) < n || len(v.storeX) < n || len(v.storeZ) < n)) {
		backwardHGeneric(p, s, v, y, x0, x1)
		return
	}
	bc := archsimd.BroadcastFloat32x8
	// Row weights: the adjoint reads rows y−k (dn) and y+k−1 (up).
	var cy, cx, ayUp, ayDn, opUp, opDn [5]archsimd.Float32x8
	for k := 1; k <= h; k++ {
		cy[k], cx[k] = bc(s.cy[k]), bc(s.cx[k])
		ayUp[k], ayDn[k] = bc(p.AYH[y+k-1]), bc(p.AYH[y-k])
		opUp[k], opDn[k] = bc(1+p.AYH[y+k-1]), bc(1+p.AYH[y-k])
	}
	one := bc(1)
	nearY, liveY := s.nearY[y], s.liveY[y]
	byh := bc(p.BYH[y])
	eyn, hx, hz, cq := ptr32(v.eyn), ptr32(v.hx), ptr32(v.hz), ptr32(v.cq)
	mz, mx, mzn, mxn, axh, bxh := ptr32(v.mEyZ), ptr32(v.mEyX), ptr32(v.mEyZn), ptr32(v.mEyXn), ptr32(p.AXH), ptr32(p.BXH)
	gcq, sx, sz := ptr32(v.gCQ), ptr32(v.storeX), ptr32(v.storeZ)
	qhx := func(i int) archsimd.Float32x8 { return load32(cq, i).Mul(load32(hx, i)) }
	qhz := func(i int) archsimd.Float32x8 { return load32(cq, i).Mul(load32(hz, i)) }
	x := x0
	for ; x+8 <= x1; x += 8 {
		if !uniform(s.nearX, s.liveX, x) {
			archsimd.ClearAVXUpperBits()
			backwardHGeneric(p, s, v, y, x, x+8)
			continue
		}
		i := y*nx + x
		var d archsimd.Float32x8
		if nearY {
			for k := 1; k <= h; k++ {
				dn, up := i-k*nx, i+(k-1)*nx
				pdn := ayDn[k].Mul(load32(mz, dn)).Sub(qhx(dn).Mul(opDn[k]))
				pup := ayUp[k].Mul(load32(mz, up)).Sub(qhx(up).Mul(opUp[k]))
				d = pdn.Sub(pup).MulAdd(cy[k], d)
			}
		} else {
			for k := 1; k <= h; k++ {
				d = qhx(i+(k-1)*nx).Sub(qhx(i-k*nx)).MulAdd(cy[k], d)
			}
		}
		if s.nearX[x] {
			for k := 1; k <= h; k++ {
				l, r := i-k, i+k-1
				al, ar := load32(axh, x-k), load32(axh, x+k-1)
				pl := al.Mul(load32(mx, l)).Add(qhz(l).Mul(one.Add(al)))
				pr := ar.Mul(load32(mx, r)).Add(qhz(r).Mul(one.Add(ar)))
				d = pl.Sub(pr).MulAdd(cx[k], d)
			}
		} else {
			for k := 1; k <= h; k++ {
				d = qhz(i-k).Sub(qhz(i+k-1)).MulAdd(cx[k], d)
			}
		}
		store32(load32(eyn, i).Add(d), eyn, i)
		if liveY {
			store32(byh.Mul(load32(mz, i).Sub(qhx(i))), mzn, i)
		}
		if s.liveX[x] {
			store32(load32(bxh, x).Mul(load32(mx, i).Add(qhz(i))), mxn, i)
		}
		if gcq != nil {
			g := load32(hz, i).Mul(load32(sx, i)).Sub(load32(hx, i).Mul(load32(sz, i)))
			store32(load32(gcq, i).Add(g), gcq, i)
		}
	}
	archsimd.ClearAVXUpperBits()
	if x < x1 {
		backwardHGeneric(p, s, v, y, x, x1)
	}
}
