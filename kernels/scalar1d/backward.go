package scalar1d

// Backward runs the adjoint of Forward over the steps of c, from the last
// to the first. On entry the fields hold the adjoint state after the chunk,
// scaled as the forward's: U[0] = μ = c·λ_u(now), U[1] = −c·λ_u(previous),
// the ψ/ζ fields their plain adjoints. On return they hold it before the
// chunk, with the same buffer-swapping rule as Forward.
//
// Per step it writes the source-amplitude gradient λ(source cell) to
// c.SourceAmp, adds c·(receiver gradient) into the receiver cells, and,
// when c.GradC is set, adds W·μ to it on the stored steps (the caller turns
// that into ∂loss/∂c by dividing by c and multiplying by the interval).
func Backward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	s := newStencil(p)
	eachShot(p.NShots, func(shot int) { backwardShot(p, s, f, c, shot) })
}

// backwardShot runs the adjoint of forwardShot for one shot.
func backwardShot[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int) {
	nx := p.NX
	b := c.Boundary
	var l boundaryLayout
	if b != nil {
		l = newBoundaryLayout(p)
	}
	for j := 0; j < c.NSteps; j++ {
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		sourceGradient(p, c.SourceAmp[step*p.NShots*p.NSources:], f.U[cur], shot)
		r := viewShot(p, f, shot, cur, nxt)
		if b != nil {
			var w []T
			if c.GradC != nil && n%p.StoreInterval == 0 {
				w = b.W[shot*nx : (shot+1)*nx]
				r.w, r.g = w, c.GradC[shot*nx:(shot+1)*nx]
			}
			rebuildStep(p, s, l, b, shot, n, step, cur, nxt, w)
		} else if w := p.snapshot(c.Store, c, n, shot); c.GradC != nil && w != nil {
			r.w, r.g = w, c.GradC[shot*nx:(shot+1)*nx]
		}
		backwardStep(p, s, &r)
		scatterAdd(f.U[nxt], c.ReceiverAmp[step*p.NShots*p.NReceivers:], p.ReceiverIndex, shot, p.NReceivers, nx, p.modelOf(shot))
	}
}

// sourceGradient writes λ = μ/c at every source cell of one shot.
func sourceGradient[T Float](p *Problem[T], out, mu []T, shot int) {
	c := p.modelOf(shot)
	for r := 0; r < p.NSources; r++ {
		j := shot*p.NSources + r
		i := p.SourceIndex[j]
		if i < 0 {
			out[j] = 0
			continue
		}
		out[j] = mu[shot*p.NX+int(i)] / c[i]
	}
}

// backwardStep is the transpose of forwardStep on one shot's interior
// cells, plus the gradient accumulation when r.g is set. With
// Λt = (1+b)μ + b·Λζ at every cell, the adjoint of u gains
// ∂²[(1+b)Λt] − ∂[b'Λt + b·Λψ], Λψ becomes a(Λψ − ∂Λt) and Λζ becomes
// a(μ + Λζ).
func backwardStep[T Float](p *Problem[T], s *stencil[T], r *shotFields[T]) {
	h := s.h
	ax, bx, dbx := p.AX, p.BX, p.DBX
	mu := r.u
	tX := func(x int) T { return (1+bx[x])*mu[x] + bx[x]*r.zeta[x] }
	for x := h; x < p.NX-h; x++ {
		var sum T
		if s.band[x] {
			d2 := s.d20 * (1 + bx[x]) * tX(x)
			var d1, dt T
			for k := 1; k <= h; k++ {
				tu, td := tX(x+k), tX(x-k)
				d2 += s.d2[k] * ((1+bx[x+k])*tu + (1+bx[x-k])*td)
				d1 += s.d1[k] * ((dbx[x+k]*tu + bx[x+k]*r.psi[x+k]) - (dbx[x-k]*td + bx[x-k]*r.psi[x-k]))
				dt += s.d1[k] * (tu - td)
			}
			sum = d2 - d1
			r.psin[x] = ax[x] * (r.psi[x] - dt)
			r.zetan[x] = ax[x] * (mu[x] + r.zeta[x])
		} else {
			sum = s.lap(mu, x)
		}
		if r.g != nil {
			r.g[x] += r.w[x] * mu[x]
		}
		r.un[x] = r.c[x]*sum + 2*mu[x] - r.un[x]
	}
}
