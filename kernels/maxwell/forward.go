package maxwell

import "github.com/torchwave/torchwave/kernels/parallel"

// Forward runs c.NSteps forward steps in place. Each step updates H, then
// Ey, adds the (already scaled) source terms to Ey, and records Ey at the
// receivers: receiver sample n is Ey after step n.
func Forward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	s := newStencil(p)
	together := shotsTogether(p)
	parallel.For(together, func(lo, hi int) {
		for shot := lo; shot < hi; shot++ {
			forwardSteps(p, s, f, c, shot, false)
		}
	})
	for shot := together; shot < p.NShots; shot++ {
		forwardSteps(p, s, f, c, shot, true)
	}
}

// shotsTogether is parallel.ShotsTogether for this problem.
func shotsTogether[T Float](p *Problem[T]) int { return parallel.ShotsTogether(p.NShots, p.NY*p.NX) }

func forwardSteps[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int, rowParallel bool) {
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
	for step := 0; step < c.NSteps; step++ {
		if k := stepsPerSweep(p, s, rowParallel, c.NSteps-step); k > 0 {
			forwardSweep(p, s, f, c, shot, step, k, rowParallel)
			step += k - 1
			continue
		}
		n := c.Step0 + step
		v := shotView(p, f, shot, 0, 0)
		if n%p.StoreInterval == 0 {
			v.stored(c, p, n, shot)
		}
		// The interior kernels write the stores of a pair together.
		fastH := (v.storeZ == nil) == (v.storeX == nil)
		fastE := (v.storeEy == nil) == (v.storeCurl == nil)
		run(func(lo, hi int) {
			s.rows(p.NX, h+lo, h+hi, fastH,
				func(y, x0, x1 int) { forwardH(p, s, &v, y, x0, x1) },
				func(i0, i1 int) { forwardHInterior(s, &v, i0, i1, p.NX) })
		})
		run(func(lo, hi int) {
			s.rows(p.NX, h+lo, h+hi, fastE,
				func(y, x0, x1 int) { forwardE(p, s, &v, y, x0, x1) },
				func(i0, i1 int) { forwardEInterior(s, &v, i0, i1, p.NX) })
		})
		scatterAdd(f.EY[0], c.SourceAmp[step*p.NShots*p.NSources:], p.SourceIndex, shot, p.NSources, cells)
		gather(c.ReceiverAmp[step*p.NShots*p.NReceivers:], f.EY[0], p.ReceiverIndex, shot, p.NReceivers, cells)
	}
}

// view is one shot's part of every buffer a row kernel touches. In the
// backward pass the fields hold adjoints; "n" marks the buffer the next
// adjoint state goes to.
type view[T Float] struct {
	ey, eyn, hx, hz                    []T
	mEyX, mEyXn, mEyZ, mEyZn           []T
	mHxZ, mHxZn, mHzX, mHzXn           []T
	ca, cb, cq                         []T
	storeEy, storeCurl, storeZ, storeX []T
	gCA, gCB, gCQ                      []T
}

func shotView[T Float](p *Problem[T], f *Fields[T], shot, cur, nxt int) view[T] {
	n := p.cells()
	o := shot * n
	part := func(s []T) []T {
		if s == nil {
			return nil
		}
		return s[o : o+n]
	}
	model := func(s []T) []T {
		if !p.ModelPerShot {
			return s
		}
		return s[o : o+n]
	}
	return view[T]{
		ey: part(f.EY[cur]), eyn: part(f.EY[nxt]), hx: part(f.HX), hz: part(f.HZ),
		mEyX: part(f.MEyX[cur]), mEyXn: part(f.MEyX[nxt]), mEyZ: part(f.MEyZ[cur]), mEyZn: part(f.MEyZ[nxt]),
		mHxZ: part(f.MHxZ[cur]), mHxZn: part(f.MHxZ[nxt]), mHzX: part(f.MHzX[cur]), mHzXn: part(f.MHzX[nxt]),
		ca: model(p.CA), cb: model(p.CB), cq: model(p.CQ),
	}
}

// stored points the view at step n's slots of the stores that are set.
func (v *view[T]) stored(c *Chunk[T], p *Problem[T], n, shot int) {
	cells := p.cells()
	off := (n/p.StoreInterval-c.StoreFirst)*p.NShots*cells + shot*cells
	slot := func(s []T) []T {
		if s == nil {
			return nil
		}
		return s[off : off+cells]
	}
	v.storeEy, v.storeCurl, v.storeZ, v.storeX = slot(c.StoreEy), slot(c.StoreCurl), slot(c.StoreDZ), slot(c.StoreDX)
}

// forwardHGeneric updates Hx, Hz and the CPML fields of Ey's derivatives on
// columns [x0, x1) of row y.
func forwardHGeneric[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	nx, h := p.NX, s.h
	ey, hx, hz, cq := v.ey, v.hx, v.hz, v.cq
	liveY := s.liveY[y]
	ayh, byh := p.AYH[y], p.BYH[y]
	for x := x0; x < x1; x++ {
		i := y*nx + x
		var dz, dx T
		for k := 1; k <= h; k++ {
			dz += s.cy[k] * (ey[i+k*nx] - ey[i-(k-1)*nx])
			dx += s.cx[k] * (ey[i+k] - ey[i-(k-1)])
		}
		if liveY {
			m := byh*v.mEyZ[i] + ayh*dz
			v.mEyZ[i] = m
			dz += m
		}
		if s.liveX[x] {
			m := p.BXH[x]*v.mEyX[i] + p.AXH[x]*dx
			v.mEyX[i] = m
			dx += m
		}
		if v.storeZ != nil {
			v.storeZ[i] = dz
		}
		if v.storeX != nil {
			v.storeX[i] = dx
		}
		hx[i] -= cq[i] * dz
		hz[i] += cq[i] * dx
	}
}

// forwardEGeneric updates Ey and the CPML fields of H's derivatives on columns
// [x0, x1) of row y.
func forwardEGeneric[T Float](p *Problem[T], s *stencil[T], v *view[T], y, x0, x1 int) {
	nx, h := p.NX, s.h
	ey, hx, hz := v.ey, v.hx, v.hz
	liveY := s.liveY[y]
	ay, by := p.AY[y], p.BY[y]
	for x := x0; x < x1; x++ {
		i := y*nx + x
		var ez, ex T
		for k := 1; k <= h; k++ {
			ez += s.cy[k] * (hx[i+(k-1)*nx] - hx[i-k*nx])
			ex += s.cx[k] * (hz[i+k-1] - hz[i-k])
		}
		if liveY {
			m := by*v.mHxZ[i] + ay*ez
			v.mHxZ[i] = m
			ez += m
		}
		if s.liveX[x] {
			m := p.BX[x]*v.mHzX[i] + p.AX[x]*ex
			v.mHzX[i] = m
			ex += m
		}
		curl := ex - ez
		if v.storeEy != nil {
			v.storeEy[i] = ey[i]
		}
		if v.storeCurl != nil {
			v.storeCurl[i] = curl
		}
		ey[i] = v.ca[i]*ey[i] + v.cb[i]*curl
	}
}

// gather copies one shot's field values at idx into out, [shot][n];
// ignored positions (index -1) read as zero.
func gather[T Float](out, field []T, idx []int64, shot, n, cells int) {
	for r := 0; r < n; r++ {
		j := shot*n + r
		if idx[j] < 0 {
			out[j] = 0
			continue
		}
		out[j] = field[shot*cells+int(idx[j])]
	}
}

// scatterAdd adds one shot's amp, [shot][n], into field at idx.
func scatterAdd[T Float](field, amp []T, idx []int64, shot, n, cells int) {
	for r := 0; r < n; r++ {
		j := shot*n + r
		if idx[j] < 0 {
			continue
		}
		field[shot*cells+int(idx[j])] += amp[j]
	}
}
