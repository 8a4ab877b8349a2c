package scalar

import "github.com/torchwave/torchwave/kernels/parallel"

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

// backwardSteps runs the adjoint of forwardSteps for one shot.
func backwardSteps[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int, rowParallel bool) {
	cells := p.cells()
	h := s.h
	b := c.Boundary
	var l boundaryLayout
	if b != nil {
		l = newBoundaryLayout(p, s)
	}
	for j := 0; j < c.NSteps; j++ {
		if k := stepsPerSweep(p, s, rowParallel, c.NSteps-j); b == nil && k > 1 {
			backwardSweep(p, s, f, c, shot, j, k, rowParallel)
			j += k - 1
			continue
		}
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		sourceGradient(p, c.SourceAmp[step*p.NShots*p.NSources:], f.U[cur], shot, shot+1, cells)
		rw := shotFields(p, f, shot, cur, nxt)
		if b != nil {
			var w []T
			if c.GradC != nil && n%p.StoreInterval == 0 {
				w = b.W[shot*cells : (shot+1)*cells]
				rw.w, rw.g = w, c.GradC[shot*cells:(shot+1)*cells]
			}
			rebuildStep(p, s, l, b, shot, n, step, cur, nxt, w, rowParallel)
		} else if w := p.snapshot(c.Store, c, n, shot); c.GradC != nil && w != nil {
			rw.w, rw.g = w, c.GradC[shot*cells:(shot+1)*cells]
		}
		runRows(p, h, rowParallel, func(lo, hi int) { updateRows(p, s, &rw, h+lo, h+hi, backwardBand[T], backwardInterior[T]) })
		scatterAdd(f.U[nxt], c.ReceiverAmp[step*p.NShots*p.NReceivers:], p.ReceiverIndex, shot, shot+1, p.NReceivers, cells, p.modelOf)
	}
}

// sourceGradient writes λ = μ/c at every source cell of shots [s0, s1).
func sourceGradient[T Float](p *Problem[T], out, mu []T, s0, s1, cells int) {
	for s := s0; s < s1; s++ {
		c := p.modelOf(s)
		for r := 0; r < p.NSources; r++ {
			j := s*p.NSources + r
			i := p.SourceIndex[j]
			if i < 0 {
				out[j] = 0
				continue
			}
			out[j] = mu[s*cells+int(i)] / c[i]
		}
	}
}

// backwardInteriorGeneric is the plain-Go interior adjoint: the forward
// update applied to μ, plus the gradient accumulation when f.g is set.
func backwardInteriorGeneric[T Float](s *stencil[T], f *rowFields[T], i0, i1, nx int) {
	u, un, c := f.u, f.un, f.c
	h := s.h
	for i := i0; i < i1; i++ {
		w := (s.d2y0 + s.d2x0) * u[i]
		for k := 1; k <= h; k++ {
			w += s.d2y[k]*(u[i+k*nx]+u[i-k*nx]) + s.d2x[k]*(u[i+k]+u[i-k])
		}
		if f.g != nil {
			f.g[i] += f.w[i] * u[i]
		}
		un[i] = c[i]*w + 2*u[i] - un[i]
	}
}

// backwardCPML is the transpose of forwardCPML on the columns [x0, x1) of
// row y. With Λt = (1+b)μ + b·Λζ at every cell, the adjoint of u gains
// ∂²[(1+b)Λt] − ∂[b'Λt + b·Λψ] per direction, Λψ becomes a(Λψ − ∂Λt) and
// Λζ becomes a(μ + Λζ).
func backwardCPML[T Float](p *Problem[T], s *stencil[T], f *rowFields[T], y, x0, x1 int) {
	nx := p.NX
	h := s.h
	mu := f.u
	ay, by, dby := p.AY, p.BY, p.DBY
	ax, bx, dbx := p.AX, p.BX, p.DBX
	// Per-direction adjoint pieces at cell i, whose row is yy (or column xx).
	tY := func(i, yy int) T { return (1+by[yy])*mu[i] + by[yy]*f.zetaY[i] }
	tX := func(i, xx int) T { return (1+bx[xx])*mu[i] + bx[xx]*f.zetaX[i] }
	for x := x0; x < x1; x++ {
		i := y*nx + x
		var sum T
		if s.bandY[y] {
			t0 := tY(i, y)
			d2 := s.d2y0 * (1 + by[y]) * t0
			var d1, dt T
			for k := 1; k <= h; k++ {
				up, dn := i+k*nx, i-k*nx
				tu, td := tY(up, y+k), tY(dn, y-k)
				d2 += s.d2y[k] * ((1+by[y+k])*tu + (1+by[y-k])*td)
				d1 += s.d1y[k] * ((dby[y+k]*tu + by[y+k]*f.psiY[up]) - (dby[y-k]*td + by[y-k]*f.psiY[dn]))
				dt += s.d1y[k] * (tu - td)
			}
			sum += d2 - d1
			f.psiYn[i] = ay[y] * (f.psiY[i] - dt)
			f.zetaYn[i] = ay[y] * (mu[i] + f.zetaY[i])
		} else {
			d2 := s.d2y0 * mu[i]
			for k := 1; k <= h; k++ {
				d2 += s.d2y[k] * (mu[i+k*nx] + mu[i-k*nx])
			}
			sum += d2
		}
		if s.bandX[x] {
			t0 := tX(i, x)
			d2 := s.d2x0 * (1 + bx[x]) * t0
			var d1, dt T
			for k := 1; k <= h; k++ {
				tu, td := tX(i+k, x+k), tX(i-k, x-k)
				d2 += s.d2x[k] * ((1+bx[x+k])*tu + (1+bx[x-k])*td)
				d1 += s.d1x[k] * ((dbx[x+k]*tu + bx[x+k]*f.psiX[i+k]) - (dbx[x-k]*td + bx[x-k]*f.psiX[i-k]))
				dt += s.d1x[k] * (tu - td)
			}
			sum += d2 - d1
			f.psiXn[i] = ax[x] * (f.psiX[i] - dt)
			f.zetaXn[i] = ax[x] * (mu[i] + f.zetaX[i])
		} else {
			d2 := s.d2x0 * mu[i]
			for k := 1; k <= h; k++ {
				d2 += s.d2x[k] * (mu[i+k] + mu[i-k])
			}
			sum += d2
		}
		if f.g != nil {
			f.g[i] += f.w[i] * mu[i]
		}
		f.un[i] = f.c[i]*sum + 2*mu[i] - f.un[i]
	}
}
