package scalar3d

import (
	"unsafe"

	"github.com/torchwave/torchwave/kernels/parallel"
)

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

// shotsTogether is how many shots run one thread per shot; the rest run
// in turn with each step's z-planes shared among the threads.
func shotsTogether[T Float](p *Problem[T]) int { return parallel.ShotsTogether(p.NShots, p.Cells()) }

// forwardSteps advances one shot through the chunk, sharing each step's
// planes among the threads when zParallel is set.
func forwardSteps[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot int, zParallel bool) {
	cells := p.Cells()
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
		gather(c.ReceiverAmp[step*p.NShots*p.NReceivers:], f.U[cur], p.ReceiverIndex, shot, shot+1, p.NReceivers, cells)
		sf := shotFields(p, f, shot, cur, nxt)
		sf.w = p.snapshot(c.Store, c, n, shot)
		runPlanes(s, zParallel, func(z0, z1 int) { s.update(&sf, z0, z1, forwardRow[T], forwardInterior[T]) })
		scatterAdd(f.U[nxt], c.SourceAmp[step*p.NShots*p.NSources:], p.SourceIndex, shot, shot+1, p.NSources, cells, nil)
		if b != nil {
			saveStrip(l, stripOf(l, b, n+2, p.NShots, shot), f.U[nxt][shot*cells:(shot+1)*cells])
		}
	}
}

// runPlanes runs body over the interior planes [h, NZ−h), shared among
// the threads when zParallel is set.
func runPlanes[T Float](s *stencil[T], zParallel bool, body func(z0, z1 int)) {
	h := s.h
	if zParallel {
		parallel.For(s.nz-2*h, func(lo, hi int) { body(h+lo, h+hi) })
	} else {
		body(h, s.nz-h)
	}
}

// snapshot returns shot's part of step n's snapshot in store, or nil when
// store is nil or step n is not stored.
func (p *Problem[T]) snapshot(store []T, c *Chunk[T], n, shot int) []T {
	if store == nil || n%p.StoreInterval != 0 {
		return nil
	}
	cells := p.Cells()
	off := (n/p.StoreInterval-c.StoreFirst)*p.NShots*cells + shot*cells
	return store[off : off+cells]
}

// rowKernel updates the cells [x0, x1) of row (z, y) with the CPML terms
// of every axis whose band holds the cell; interiorKernel updates the flat
// cells [i0, i1) of a row outside every band.
type (
	rowKernel[T Float]      func(s *stencil[T], f *fieldViews[T], z, y, x0, x1 int)
	interiorKernel[T Float] func(s *stencil[T], f *fieldViews[T], i0, i1 int)
)

// tileBudget is the bytes of u the planes of one tile span.
var tileBudget = 512 << 10

// tileRows is how many rows of y one tile spans: the planes z ± h of a
// tile, 2h+1 of them, stay in cache while z advances through the tile.
func (s *stencil[T]) tileRows() int {
	var zero T
	size := int(unsafe.Sizeof(zero))
	return max(8, tileBudget/((2*s.h+1)*s.nx*size)-2*s.h)
}

// update applies one step to the planes [z0, z1), tile by tile in y: band
// rows across the whole width with the row kernel, ordinary rows as their
// two x-band segments (row kernel) plus the interior (interior kernel).
// Forward and backward differ only in the kernels.
func (s *stencil[T]) update(f *fieldViews[T], z0, z1 int, row rowKernel[T], interior interiorKernel[T]) {
	h, ny, nx := s.h, s.ny, s.nx
	ty := s.tileRows()
	for y0 := h; y0 < ny-h; y0 += ty {
		y1 := min(y0+ty, ny-h)
		for z := z0; z < z1; z++ {
			bz := s.band[axisZ][z]
			for y := y0; y < y1; y++ {
				if bz || s.band[axisY][y] {
					row(s, f, z, y, h, nx-h)
					continue
				}
				row(s, f, z, y, h, s.x0)
				row(s, f, z, y, s.x1, nx-h)
				base := (z*ny + y) * nx
				interior(s, f, base+s.x0, base+s.x1)
			}
		}
	}
}

// fieldViews are one shot's views of the buffers a kernel reads and
// writes, per axis z, y, x for the CPML fields. In the backward pass u
// holds μ and the ψ/ζ fields their adjoints; w is the stored W (read in
// backward, written in forward) and g the gradient accumulator.
type fieldViews[T Float] struct {
	u, un                  []T
	psi, psin, zeta, zetan [3][]T
	c, w, g                []T
}

// shotFields views one shot's part of every field pair.
func shotFields[T Float](p *Problem[T], f *Fields[T], shot, cur, nxt int) fieldViews[T] {
	cells := p.Cells()
	o := shot * cells
	v := func(pair [2][]T, k int) []T { return pair[k][o : o+cells] }
	return fieldViews[T]{
		u: v(f.U, cur), un: v(f.U, nxt),
		psi:   [3][]T{v(f.PsiZ, cur), v(f.PsiY, cur), v(f.PsiX, cur)},
		psin:  [3][]T{v(f.PsiZ, nxt), v(f.PsiY, nxt), v(f.PsiX, nxt)},
		zeta:  [3][]T{v(f.ZetaZ, cur), v(f.ZetaY, cur), v(f.ZetaX, cur)},
		zetan: [3][]T{v(f.ZetaZ, nxt), v(f.ZetaY, nxt), v(f.ZetaX, nxt)},
		c:     p.ModelOf(shot),
	}
}

// forwardInteriorGeneric is the plain-Go interior kernel: the Laplacian,
// the leapfrog update, and W stored when f.w is set.
func forwardInteriorGeneric[T Float](s *stencil[T], f *fieldViews[T], i0, i1 int) {
	u, un, c := f.u, f.un, f.c
	h, sz, sy := s.h, s.stride[axisZ], s.stride[axisY]
	for i := i0; i < i1; i++ {
		w := s.lapCentre * u[i]
		for k := 1; k <= h; k++ {
			w += s.d2[axisZ][k]*(u[i+k*sz]+u[i-k*sz]) + s.d2[axisY][k]*(u[i+k*sy]+u[i-k*sy]) + s.d2[axisX][k]*(u[i+k]+u[i-k])
		}
		un[i] = c[i]*w + 2*u[i] - un[i]
		if f.w != nil {
			f.w[i] = w
		}
	}
}

// forwardRowGeneric is the full formula on the cells [x0, x1) of row
// (z, y); each axis falls back to the plain second derivative outside its
// band.
func forwardRowGeneric[T Float](s *stencil[T], f *fieldViews[T], z, y, x0, x1 int) {
	base := (z*s.ny + y) * s.nx
	bz, by := s.band[axisZ][z], s.band[axisY][y]
	u, un, c := f.u, f.un, f.c
	for x := x0; x < x1; x++ {
		i := base + x
		w := forwardAxis(s, f, axisZ, z, i, bz)
		w += forwardAxis(s, f, axisY, y, i, by)
		w += forwardAxis(s, f, axisX, x, i, s.band[axisX][x])
		un[i] = c[i]*w + 2*u[i] - un[i]
		if f.w != nil {
			f.w[i] = w
		}
	}
}

// forwardAxis is axis a's part of W at cell i, whose coordinate along a is
// j: (1+b)tmp + aζ, writing ψ' and ζ', when live, else ∂aa u.
func forwardAxis[T Float](s *stencil[T], f *fieldViews[T], a, j, i int, live bool) T {
	u, st, h := f.u, s.stride[a], s.h
	d1, d2 := &s.d1[a], &s.d2[a]
	udd := s.d20[a] * u[i]
	if !live {
		for k := 1; k <= h; k++ {
			udd += d2[k] * (u[i+k*st] + u[i-k*st])
		}
		return udd
	}
	pa, pb, pdb := s.a[a], s.b[a], s.db[a]
	psi, zeta := f.psi[a], f.zeta[a]
	var ud, dpsi T
	for k := 1; k <= h; k++ {
		up, dn := i+k*st, i-k*st
		ud += d1[k] * (u[up] - u[dn])
		udd += d2[k] * (u[up] + u[dn])
		dpsi += d1[k] * (pa[j+k]*psi[up] - pa[j-k]*psi[dn])
	}
	tmp := (1+pb[j])*udd + pdb[j]*ud + dpsi
	// ζ is updated in place (zetan aliases zeta, as Python passes it):
	// read it before writing.
	z := zeta[i]
	f.psin[a][i] = pb[j]*ud + pa[j]*psi[i]
	f.zetan[a][i] = pb[j]*tmp + pa[j]*z
	return (1+pb[j])*tmp + pa[j]*z
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
