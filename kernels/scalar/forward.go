package scalar

import "github.com/torchwave/torchwave/kernels/parallel"

// Forward runs c.NSteps forward steps. Each step records the receivers from
// the current wavefield, advances every field, and adds the (already
// scaled) source amplitudes to the new wavefield.
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

// forwardSteps advances one shot through the chunk, sharing each step's
// rows among the threads when rowParallel is set.
func forwardSteps[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int, rowParallel bool) {
	cells := p.cells()
	h := s.h
	b := c.Boundary
	var l boundaryLayout
	if b != nil {
		l = newBoundaryLayout(p, s)
		if c.Step0 == 0 && c.NSteps > 0 {
			saveInitial(p, l, b, f, shot)
		}
	}
	for step := 0; step < c.NSteps; {
		if k := stepsPerSweep(p, s, rowParallel, c.NSteps-step); b == nil && k > 1 {
			forwardSweep(p, s, f, c, shot, step, k, rowParallel)
			step += k
			continue
		}
		n := c.Step0 + step
		cur, nxt := step%2, (step+1)%2
		gather(c.ReceiverAmp[step*p.NShots*p.NReceivers:], f.U[cur], p.ReceiverIndex, shot, shot+1, p.NReceivers, cells)
		rw := shotFields(p, f, shot, cur, nxt)
		rw.w = p.snapshot(c.Store, c, n, shot)
		runRows(p, h, rowParallel, func(lo, hi int) { updateRows(p, s, &rw, h+lo, h+hi, forwardBand[T], forwardInterior[T]) })
		scatterAdd(f.U[nxt], c.SourceAmp[step*p.NShots*p.NSources:], p.SourceIndex, shot, shot+1, p.NSources, cells, nil)
		if b != nil {
			saveStrip(l, stripOf(l, b, n+2, p.NShots, shot), f.U[nxt][shot*cells:(shot+1)*cells])
		}
		step++
	}
}

// runRows runs body over the interior rows [0, NY−2h), shared among the
// threads when rowParallel is set.
func runRows[T Float](p *Problem[T], h int, rowParallel bool, body func(lo, hi int)) {
	if rowParallel {
		parallel.For(p.NY-2*h, body)
	} else {
		body(0, p.NY-2*h)
	}
}

// snapshot returns shot's part of step n's snapshot in store, or nil when
// store is nil or step n is not stored.
func (p *Problem[T]) snapshot(store []T, c *Chunk[T], n, shot int) []T {
	if store == nil || n%p.StoreInterval != 0 {
		return nil
	}
	cells := p.cells()
	off := (n/p.StoreInterval-c.StoreFirst)*p.NShots*cells + shot*cells
	return store[off : off+cells]
}

// updateRows applies one step to rows [y0, y1) as runs: band rows across
// the whole width with the band kernel, ordinary rows as their two x-band
// segments (band kernel) plus the interior (interior kernel). Forward and
// backward differ only in the kernels.
func updateRows[T Float](p *Problem[T], s *stencil[T], f *rowFields[T], y0, y1 int,
	band func(*Problem[T], *stencil[T], *rowFields[T], int, int, int, int),
	interior func(*stencil[T], *rowFields[T], int, int, int)) {
	for y := y0; y < y1; {
		isBand := s.bandY[y]
		e := y + 1
		for e < y1 && s.bandY[e] == isBand {
			e++
		}
		if isBand {
			band(p, s, f, y, e, s.h, p.NX-s.h)
		} else {
			band(p, s, f, y, e, s.h, s.x0)
			band(p, s, f, y, e, s.x1, p.NX-s.h)
			for r := y; r < e; r++ {
				interior(s, f, r*p.NX+s.x0, r*p.NX+s.x1, p.NX)
			}
		}
		y = e
	}
}

// shotFields views one shot's part of every field pair.
func shotFields[T Float](p *Problem[T], f *Fields[T], shot, cur, nxt int) rowFields[T] {
	cells := p.cells()
	o := shot * cells
	return rowFields[T]{
		u: f.U[cur][o : o+cells], un: f.U[nxt][o : o+cells],
		psiY: f.PsiY[cur][o : o+cells], psiYn: f.PsiY[nxt][o : o+cells],
		psiX: f.PsiX[cur][o : o+cells], psiXn: f.PsiX[nxt][o : o+cells],
		zetaY: f.ZetaY[cur][o : o+cells], zetaYn: f.ZetaY[nxt][o : o+cells],
		zetaX: f.ZetaX[cur][o : o+cells], zetaXn: f.ZetaX[nxt][o : o+cells],
		c: p.modelOf(shot),
	}
}

// rowFields are one shot's views of the buffers a row kernel reads and
// writes. In the backward pass u holds μ and the ψ/ζ fields their adjoints;
// w is the stored W (read in backward, written in forward) and g the
// gradient accumulator.
type rowFields[T Float] struct {
	u, un, psiY, psiYn, psiX, psiXn, zetaY, zetaYn, zetaX, zetaXn []T
	c, w, g                                                       []T
}

func (p *Problem[T]) modelOf(shot int) []T {
	if !p.ModelPerShot {
		return p.C
	}
	n := p.cells()
	return p.C[shot*n : (shot+1)*n]
}

// forwardInteriorGeneric is the plain-Go interior kernel: the Laplacian,
// the leapfrog update, and W stored when f.w is set.
func forwardInteriorGeneric[T Float](s *stencil[T], f *rowFields[T], i0, i1, nx int) {
	u, un, c := f.u, f.un, f.c
	h := s.h
	for i := i0; i < i1; i++ {
		w := (s.d2y0 + s.d2x0) * u[i]
		for k := 1; k <= h; k++ {
			w += s.d2y[k]*(u[i+k*nx]+u[i-k*nx]) + s.d2x[k]*(u[i+k]+u[i-k])
		}
		un[i] = c[i]*w + 2*u[i] - un[i]
		if f.w != nil {
			f.w[i] = w
		}
	}
}

// forwardCPML is the full formula on the columns [x0, x1) of row y; each
// direction falls back to the plain second derivative outside its band.
func forwardCPML[T Float](p *Problem[T], s *stencil[T], f *rowFields[T], y, x0, x1 int) {
	nx := p.NX
	h := s.h
	u := f.u
	for x := x0; x < x1; x++ {
		i := y*nx + x
		var w T
		if s.bandY[y] {
			var uy, dpsi T
			uyy := s.d2y0 * u[i]
			for k := 1; k <= h; k++ {
				up, dn := i+k*nx, i-k*nx
				uy += s.d1y[k] * (u[up] - u[dn])
				uyy += s.d2y[k] * (u[up] + u[dn])
				dpsi += s.d1y[k] * (p.AY[y+k]*f.psiY[up] - p.AY[y-k]*f.psiY[dn])
			}
			tmp := (1+p.BY[y])*uyy + p.DBY[y]*uy + dpsi
			w += (1+p.BY[y])*tmp + p.AY[y]*f.zetaY[i]
			f.psiYn[i] = p.BY[y]*uy + p.AY[y]*f.psiY[i]
			f.zetaYn[i] = p.BY[y]*tmp + p.AY[y]*f.zetaY[i]
		} else {
			uyy := s.d2y0 * u[i]
			for k := 1; k <= h; k++ {
				uyy += s.d2y[k] * (u[i+k*nx] + u[i-k*nx])
			}
			w += uyy
		}
		if s.bandX[x] {
			var ux, dpsi T
			uxx := s.d2x0 * u[i]
			for k := 1; k <= h; k++ {
				uxx += s.d2x[k] * (u[i+k] + u[i-k])
				ux += s.d1x[k] * (u[i+k] - u[i-k])
				dpsi += s.d1x[k] * (p.AX[x+k]*f.psiX[i+k] - p.AX[x-k]*f.psiX[i-k])
			}
			tmp := (1+p.BX[x])*uxx + p.DBX[x]*ux + dpsi
			w += (1+p.BX[x])*tmp + p.AX[x]*f.zetaX[i]
			f.psiXn[i] = p.BX[x]*ux + p.AX[x]*f.psiX[i]
			f.zetaXn[i] = p.BX[x]*tmp + p.AX[x]*f.zetaX[i]
		} else {
			uxx := s.d2x0 * u[i]
			for k := 1; k <= h; k++ {
				uxx += s.d2x[k] * (u[i+k] + u[i-k])
			}
			w += uxx
		}
		f.un[i] = f.c[i]*w + 2*u[i] - f.un[i]
		if f.w != nil {
			f.w[i] = w
		}
	}
}

// gather copies field values at idx into out, [shot][n], for shots
// [s0, s1); ignored positions (index -1) read as zero.
func gather[T Float](out, field []T, idx []int64, s0, s1, n, cells int) {
	for s := s0; s < s1; s++ {
		for r := 0; r < n; r++ {
			j := s*n + r
			if idx[j] < 0 {
				out[j] = 0
				continue
			}
			out[j] = field[s*cells+int(idx[j])]
		}
	}
}

// scatterAdd adds amp, [shot][n], into field at idx for shots [s0, s1),
// each value multiplied by scale(shot) at that cell when scale is set.
func scatterAdd[T Float](field, amp []T, idx []int64, s0, s1, n, cells int, scale func(shot int) []T) {
	for s := s0; s < s1; s++ {
		for r := 0; r < n; r++ {
			j := s*n + r
			if idx[j] < 0 {
				continue
			}
			v := amp[j]
			if scale != nil {
				v *= scale(s)[idx[j]]
			}
			field[s*cells+int(idx[j])] += v
		}
	}
}
