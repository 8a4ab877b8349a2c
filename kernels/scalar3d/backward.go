package scalar3d

import "github.com/torchwave/torchwave/kernels/parallel"

// Backward runs the adjoint of Forward over the steps of c, from the last
// to the first, with the conventions of kernels/scalar.Backward: on entry
// the fields hold the adjoint state after the chunk, U[0] = μ = c·λ_u(now),
// U[1] = −c·λ_u(previous), the ψ/ζ fields their plain adjoints; on return
// they hold it before the chunk, with the same buffer-swapping rule as
// Forward. Per step it writes the source-amplitude gradient λ(source cell)
// to c.SourceAmp, adds c·(receiver gradient) into the receiver cells, and,
// when c.GradC is set, adds W·μ to it on the stored steps.
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
func backwardSteps[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int, zParallel bool) {
	cells := p.Cells()
	b := c.Boundary
	var l boundaryLayout
	if b != nil {
		l = newBoundaryLayout(p)
	}
	for j := 0; j < c.NSteps; j++ {
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		sourceGradient(p, c.SourceAmp[step*p.NShots*p.NSources:], f.U[cur], shot, shot+1, cells)
		sf := shotFields(p, f, shot, cur, nxt)
		if b != nil {
			var w []T
			if c.GradC != nil && n%p.StoreInterval == 0 {
				w = b.W[shot*cells : (shot+1)*cells]
				sf.w, sf.g = w, c.GradC[shot*cells:(shot+1)*cells]
			}
			rebuildStep(p, s, l, b, shot, n, step, cur, nxt, w, zParallel)
		} else if w := p.snapshot(c.Store, c, n, shot); c.GradC != nil && w != nil {
			sf.w, sf.g = w, c.GradC[shot*cells:(shot+1)*cells]
		}
		runPlanes(s, zParallel, func(z0, z1 int) { s.update(&sf, z0, z1, backwardRow[T], backwardInterior[T]) })
		scatterAdd(f.U[nxt], c.ReceiverAmp[step*p.NShots*p.NReceivers:], p.ReceiverIndex, shot, shot+1, p.NReceivers, cells, p.ModelOf)
	}
}

// sourceGradient writes λ = μ/c at every source cell of shots [s0, s1).
func sourceGradient[T Float](p *Problem[T], out, mu []T, s0, s1, cells int) {
	for s := s0; s < s1; s++ {
		c := p.ModelOf(s)
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
func backwardInteriorGeneric[T Float](s *stencil[T], f *fieldViews[T], i0, i1 int) {
	u, un, c := f.u, f.un, f.c
	h, sz, sy := s.h, s.stride[axisZ], s.stride[axisY]
	for i := i0; i < i1; i++ {
		w := s.lapCentre * u[i]
		for k := 1; k <= h; k++ {
			w += s.d2[axisZ][k]*(u[i+k*sz]+u[i-k*sz]) + s.d2[axisY][k]*(u[i+k*sy]+u[i-k*sy]) + s.d2[axisX][k]*(u[i+k]+u[i-k])
		}
		if f.g != nil {
			f.g[i] += f.w[i] * u[i]
		}
		un[i] = c[i]*w + 2*u[i] - un[i]
	}
}

// backwardRowGeneric is the transpose of forwardRowGeneric on the cells
// [x0, x1) of row (z, y).
func backwardRowGeneric[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	base := (z*s.ny + y) * s.nx
	bz, by := s.band[axisZ][z], s.band[axisY][y]
	mu, un, c := f.u, f.un, f.c
	for x := x0; x < x1; x++ {
		i := base + x
		sum := backwardAxis(s, f, axisZ, z, i, bz)
		sum += backwardAxis(s, f, axisY, y, i, by)
		sum += backwardAxis(s, f, axisX, x, i, s.band[axisX][x])
		if f.g != nil {
			f.g[i] += f.w[i] * mu[i]
		}
		un[i] = c[i]*sum + 2*mu[i] - un[i]
	}
}

// backwardAxis is axis a's part of the adjoint at cell i, whose coordinate
// along a is j. With Λt = (1+b)μ + b·Λζ at every cell, the adjoint of u
// gains ∂²[(1+b)Λt] − ∂[b'Λt + b·Λψ], Λψ becomes a(Λψ − ∂Λt) and Λζ
// becomes a(μ + Λζ); outside the band it is ∂aa μ.
func backwardAxis[T Float](s *stencil[T], f *fieldViews[T], a, j, i int, live bool) T {
	mu, st, h := f.u, s.stride[a], s.h
	d1, d2 := &s.d1[a], &s.d2[a]
	if !live {
		sum := s.d20[a] * mu[i]
		for k := 1; k <= h; k++ {
			sum += d2[k] * (mu[i+k*st] + mu[i-k*st])
		}
		return sum
	}
	pa, pb, pdb := s.a[a], s.b[a], s.db[a]
	psi, zeta := f.psi[a], f.zeta[a]
	t := func(i, j int) T { return (1+pb[j])*mu[i] + pb[j]*zeta[i] }
	sum := s.d20[a] * (1 + pb[j]) * t(i, j)
	var dd, dt T
	for k := 1; k <= h; k++ {
		up, dn := i+k*st, i-k*st
		tu, td := t(up, j+k), t(dn, j-k)
		sum += d2[k] * ((1+pb[j+k])*tu + (1+pb[j-k])*td)
		dd += d1[k] * ((pdb[j+k]*tu + pb[j+k]*psi[up]) - (pdb[j-k]*td + pb[j-k]*psi[dn]))
		dt += d1[k] * (tu - td)
	}
	f.psin[a][i] = pa[j] * (psi[i] - dt)
	f.zetan[a][i] = pa[j] * (mu[i] + zeta[i])
	return sum - dd
}
