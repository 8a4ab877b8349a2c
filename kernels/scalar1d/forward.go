package scalar1d

// Forward runs c.NSteps forward steps. Each step records the receivers from
// the current wavefield, advances every field, and adds the (already
// scaled) source amplitudes to the new wavefield.
func Forward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	s := newStencil(p)
	eachShot(p.NShots, func(shot int) { forwardShot(p, s, f, c, shot) })
}

// forwardShot advances one shot through the chunk.
func forwardShot[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int) {
	nx := p.NX
	b := c.Boundary
	var l boundaryLayout
	if b != nil {
		l = newBoundaryLayout(p)
		if c.Step0 == 0 && c.NSteps > 0 {
			saveInitial(p, l, b, f, shot)
		}
	}
	for step := 0; step < c.NSteps; step++ {
		n := c.Step0 + step
		cur, nxt := step%2, (step+1)%2
		gather(c.ReceiverAmp[step*p.NShots*p.NReceivers:], f.U[cur], p.ReceiverIndex, shot, p.NReceivers, nx)
		r := viewShot(p, f, shot, cur, nxt)
		r.w = p.snapshot(c.Store, c, n, shot)
		forwardStep(p, s, &r)
		scatterAdd(f.U[nxt], c.SourceAmp[step*p.NShots*p.NSources:], p.SourceIndex, shot, p.NSources, nx, nil)
		if b != nil {
			saveStrip(l, stripOf(l, b, n+2, p.NShots, shot), r.un)
		}
	}
}

// forwardStep applies one step to one shot's interior cells, and stores
// W in r.w when it is set.
func forwardStep[T Float](p *Problem[T], s *stencil[T], r *shotFields[T]) {
	h := s.h
	ax, bx, dbx := p.AX, p.BX, p.DBX
	u := r.u
	for x := h; x < p.NX-h; x++ {
		w := s.lap(u, x)
		if s.band[x] {
			var ux, dpsi T
			for k := 1; k <= h; k++ {
				ux += s.d1[k] * (u[x+k] - u[x-k])
				dpsi += s.d1[k] * (ax[x+k]*r.psi[x+k] - ax[x-k]*r.psi[x-k])
			}
			tmp := (1+bx[x])*w + dbx[x]*ux + dpsi
			w = (1+bx[x])*tmp + ax[x]*r.zeta[x]
			r.psin[x] = bx[x]*ux + ax[x]*r.psi[x]
			r.zetan[x] = bx[x]*tmp + ax[x]*r.zeta[x]
		}
		r.un[x] = r.c[x]*w + 2*u[x] - r.un[x]
		if r.w != nil {
			r.w[x] = w
		}
	}
}
