package maxwell

import "github.com/torchwave/torchwave/kernels/parallel"

// Backward runs the adjoint of Forward over the steps of c, from the last
// to the first. On entry the fields hold the gradient of the loss with
// respect to the state after the chunk; on return, with respect to the
// state before it (paired fields swap as described at Fields).
//
// Per step it adds the receiver gradient into the adjoint of Ey, writes the
// source-term gradient to c.SourceAmp, and adds the products of the adjoint
// fields with the stored forward fields into the gradient accumulators that
// are set: ∂loss/∂ca, ∂loss/∂cb and ∂loss/∂cq per shot, on stored steps
// only (the caller multiplies by the store interval).
func Backward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	s := newStencil(p)
	together := shotsTogether(p)
	parallel.For(together, func(lo, hi int) {
		for shot := lo; shot < hi; shot++ {
			backwardSteps(p, s, f, c, shot, false)
		}
	})
	for shot := together; shot < p.NShots; shot++ {
		backwardSteps(p, s, f, c, shot, true)
	}
}

func backwardSteps[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int, rowParallel bool) {
	cells := p.cells()
	h := s.h
	rows := p.NY - 2*h
	run := func(body func(lo, hi int)) {
		if rowParallel {
			parallel.For(rows, body)
		} else {
			body(0, rows)
		}
	}
	for j := 0; j < c.NSteps; j++ {
		if k := stepsPerSweep(p, s, rowParallel, c.NSteps-j); k > 0 {
			backwardSweep(p, s, f, c, shot, j, k, rowParallel)
			j += k - 1
			continue
		}
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		scatterAdd(f.EY[cur], c.ReceiverAmp[step*p.NShots*p.NReceivers:], p.ReceiverIndex, shot, p.NReceivers, cells)
		gather(c.SourceAmp[step*p.NShots*p.NSources:], f.EY[cur], p.SourceIndex, shot, p.NSources, cells)
		v := shotView(p, f, shot, cur, nxt)
		if n%p.StoreInterval == 0 {
			v.stored(c, p, n, shot)
			o := shot * cells
			if c.GradCA != nil {
				v.gCA = c.GradCA[o : o+cells]
			}
			if c.GradCB != nil {
				v.gCB = c.GradCB[o : o+cells]
			}
			if c.GradCQ != nil {
				v.gCQ = c.GradCQ[o : o+cells]
			}
		}
		// The interior kernel accumulates the gradients of ca and cb together.
		fastE := (v.gCA == nil) == (v.gCB == nil)
		run(func(lo, hi int) {
			s.rows(p.NX, h+lo, h+hi, fastE,
				func(y, x0, x1 int) { backwardE(p, s, &v, y, x0, x1) },
				func(i0, i1 int) { backwardEInterior(s, &v, i0, i1, p.NX) })
		})
		run(func(lo, hi int) {
			s.rows(p.NX, h+lo, h+hi, true,
				func(y, x0, x1 int) { backwardH(p, s, &v, y, x0, x1) },
				func(i0, i1 int) { backwardHInterior(s, &v, i0, i1, p.NX) })
		})
	}
}

// backwardEGeneric is the transpose of forwardE on columns [x0, x1) of row y.
// With g = cb·λEy, the adjoints of the two H derivatives at a cell are
//
//	qz = −g·(1+ay) + ay·λm_Hx_z,   qx = g·(1+ax) + ax·λm_Hz_x,
//
// the H adjoints gain the transposed differences of those, λEy becomes
// ca·λEy, and the memory adjoints become by·(λm_Hx_z − g), bx·(λm_Hz_x + g).
func backwardEGeneric[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	nx, h := p.NX, s.h
	lam, cb := v.ey, v.cb
	ay, ax := p.AY, p.AX
	qz := func(i, r int) T { return -cb[i]*lam[i]*(1+ay[r]) + ay[r]*v.mHxZ[i] }
	qx := func(i, c int) T { return cb[i]*lam[i]*(1+ax[c]) + ax[c]*v.mHzX[i] }
	nearY, liveY := s.nearY[y], s.liveY[y]
	for x := x0; x < x1; x++ {
		i := y*nx + x
		var dz, dx T
		if nearY {
			for k := 1; k <= h; k++ {
				dz += s.cy[k] * (qz(i-(k-1)*nx, y-(k-1)) - qz(i+k*nx, y+k))
			}
		} else {
			for k := 1; k <= h; k++ {
				dz += s.cy[k] * (cb[i+k*nx]*lam[i+k*nx] - cb[i-(k-1)*nx]*lam[i-(k-1)*nx])
			}
		}
		if s.nearX[x] {
			for k := 1; k <= h; k++ {
				dx += s.cx[k] * (qx(i-(k-1), x-(k-1)) - qx(i+k, x+k))
			}
		} else {
			for k := 1; k <= h; k++ {
				dx += s.cx[k] * (cb[i-(k-1)]*lam[i-(k-1)] - cb[i+k]*lam[i+k])
			}
		}
		v.hx[i] += dz
		v.hz[i] += dx
		g := cb[i] * lam[i]
		if liveY {
			v.mHxZn[i] = p.BY[y] * (v.mHxZ[i] - g)
		}
		if s.liveX[x] {
			v.mHzXn[i] = p.BX[x] * (v.mHzX[i] + g)
		}
		if v.gCA != nil {
			v.gCA[i] += lam[i] * v.storeEy[i]
		}
		if v.gCB != nil {
			v.gCB[i] += lam[i] * v.storeCurl[i]
		}
		v.eyn[i] = v.ca[i] * lam[i]
	}
}

// backwardHGeneric is the transpose of forwardH on columns [x0, x1) of row y,
// run after backwardE has finished the H adjoints. The adjoints of Ey's
// two derivatives are
//
//	pz = −cq·λHx·(1+ayh) + ayh·λm_Ey_z,   px = cq·λHz·(1+axh) + axh·λm_Ey_x,
//
// and λEy gains their transposed differences.
func backwardHGeneric[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	nx, h := p.NX, s.h
	hx, hz, cq := v.hx, v.hz, v.cq
	ayh, axh := p.AYH, p.AXH
	pz := func(i, r int) T { return -cq[i]*hx[i]*(1+ayh[r]) + ayh[r]*v.mEyZ[i] }
	px := func(i, c int) T { return cq[i]*hz[i]*(1+axh[c]) + axh[c]*v.mEyX[i] }
	nearY, liveY := s.nearY[y], s.liveY[y]
	for x := x0; x < x1; x++ {
		i := y*nx + x
		var d T
		if nearY {
			for k := 1; k <= h; k++ {
				d += s.cy[k] * (pz(i-k*nx, y-k) - pz(i+(k-1)*nx, y+k-1))
			}
		} else {
			for k := 1; k <= h; k++ {
				d += s.cy[k] * (cq[i+(k-1)*nx]*hx[i+(k-1)*nx] - cq[i-k*nx]*hx[i-k*nx])
			}
		}
		if s.nearX[x] {
			for k := 1; k <= h; k++ {
				d += s.cx[k] * (px(i-k, x-k) - px(i+k-1, x+k-1))
			}
		} else {
			for k := 1; k <= h; k++ {
				d += s.cx[k] * (cq[i-k]*hz[i-k] - cq[i+k-1]*hz[i+k-1])
			}
		}
		v.eyn[i] += d
		if liveY {
			v.mEyZn[i] = p.BYH[y] * (v.mEyZ[i] - cq[i]*hx[i])
		}
		if s.liveX[x] {
			v.mEyXn[i] = p.BXH[x] * (v.mEyX[i] + cq[i]*hz[i])
		}
		if v.gCQ != nil {
			v.gCQ[i] += hz[i]*v.storeX[i] - hx[i]*v.storeZ[i]
		}
	}
}
