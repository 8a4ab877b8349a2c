package scalar

import (
	"fmt"

	"github.com/torchwave/torchwave/kernels/grid"
)

// Boundary saving keeps the model gradient's history small. Away from the
// PML, W is the plain Laplacian and the leapfrog step runs backwards as
// well as forwards:
//
//	u_{n−1} = c·Lap(u_n) + 2u_n − (u_{n+1} − s_n)
//
// which is the forward interior kernel applied with u_{n+1} − s_n in
// place of u_{n−1}. The CPML fields cannot be run backwards (their
// damping would turn into growth), so the forward pass records u on
// every cell outside the rebuilt rectangle, the PML and the h cells next
// to it, one strip per step. The backward pass rebuilds u inside the
// rectangle step by step, takes the rest from the strips, and gets W
// there from the time difference of the wavefield:
//
//	W_n = (u_{n+1} − s_n − 2u_n + u_{n−1}) / c
//
// Exact in exact arithmetic; in floating point the rebuilt field carries
// the round-off of the reversed steps.

// Boundary holds the buffers of boundary saving for one chunk. Strips
// spans the whole propagation: strip k holds u of step k−1 outside the
// rectangle, [k][NShots][BoundaryCells], so strips 0 and 1 are the
// initial state (u_prev, u) and strip n+2 the result of step n.
type Boundary[T Float] struct {
	Strips []T
	// Backward only. SourceAmp holds the forward's scaled source
	// amplitudes of the chunk's steps, [NSteps][NShots][NSources]. U is
	// the forward wavefield being rebuilt, a pair like Fields.U: on entry
	// U[0] is u after the chunk and U[1] the step before; it swaps every
	// step. W is scratch for one step's W, [NShots][NY][NX], needed when
	// the chunk has GradC.
	SourceAmp []T
	U         [2][]T
	W         []T
}

// boundaryLayout is the rectangle [y0, y1)×[x0, x1) the reversed step
// rebuilds, where W is the plain Laplacian, and the order of a strip's
// cells: row by row over the grid without its halo, skipping the
// rectangle.
type boundaryLayout struct {
	h, ny, nx      int
	y0, y1, x0, x1 int
}

func newBoundaryLayout[T Float](p *Problem[T], s *stencil[T]) boundaryLayout {
	l := boundaryLayout{h: s.h, ny: p.NY, nx: p.NX}
	l.y0, l.y1 = longestRun(plainLaplacian(s.h, p.AY, p.BY, p.DBY), s.h, p.NY-s.h)
	l.x0, l.x1 = longestRun(plainLaplacian(s.h, p.AX, p.BX, p.DBX), s.h, p.NX-s.h)
	if l.y0 == l.y1 || l.x0 == l.x1 {
		l.y0, l.y1, l.x0, l.x1 = s.h, s.h, s.h, s.h
	}
	return l
}

// plainLaplacian marks the rows (or columns) where the CPML terms of W
// vanish: every coefficient is zero there and a is zero within h, since
// the ψ derivative reads a·ψ. This is tighter than the stencil's band,
// which also spans h cells around the non-zero ∂b.
func plainLaplacian[T Float](h int, a, b, db []T) []bool {
	out := make([]bool, len(a))
	for i := range out {
		out[i] = a[i] == 0 && b[i] == 0 && db[i] == 0
	}
	for i := range a {
		if a[i] != 0 {
			for j := max(0, i-h); j <= min(len(a)-1, i+h); j++ {
				out[j] = false
			}
		}
	}
	return out
}

// longestRun returns the longest run [start, end) of true in ok[lo:hi].
func longestRun(ok []bool, lo, hi int) (start, end int) {
	start, end = lo, lo
	for i, run := lo, lo; i <= hi; i++ {
		if i < hi && ok[i] {
			continue
		}
		if i-run > end-start {
			start, end = run, i
		}
		run = i + 1
	}
	return start, end
}

// BoundaryCells is the number of cells a strip holds per shot.
func (p *Problem[T]) BoundaryCells() int {
	return newBoundaryLayout(p, newStencil(p)).cells()
}

func (l boundaryLayout) cells() int {
	return (l.ny-2*l.h)*(l.nx-2*l.h) - (l.y1-l.y0)*(l.x1-l.x0)
}

// rowStart is the position of row y's first cell in a strip.
func (l boundaryLayout) rowStart(y int) int {
	w, gap := l.nx-2*l.h, l.x1-l.x0
	switch {
	case y < l.y0:
		return (y - l.h) * w
	case y < l.y1:
		return (l.y0-l.h)*w + (y-l.y0)*(w-gap)
	}
	return (l.y0-l.h)*w + (l.y1-l.y0)*(w-gap) + (y-l.y1)*w
}

// runs returns the column ranges [a0, a1) and [b0, b1) of row y that a
// strip holds; the second is empty on rows without rectangle cells.
func (l boundaryLayout) runs(y int) (a0, a1, b0, b1 int) {
	if y >= l.y0 && y < l.y1 {
		return l.h, l.x0, l.x1, l.nx - l.h
	}
	return l.h, l.nx - l.h, 0, 0
}

// saveStrip copies one shot's u outside the rectangle into its strip.
func saveStrip[T Float](l boundaryLayout, strip, u []T) {
	k := 0
	for y := l.h; y < l.ny-l.h; y++ {
		a0, a1, b0, b1 := l.runs(y)
		k += copy(strip[k:], u[y*l.nx+a0:y*l.nx+a1])
		k += copy(strip[k:], u[y*l.nx+b0:y*l.nx+b1])
	}
}

// stripOf returns shot's part of strip k.
func stripOf[T Float](l boundaryLayout, b *Boundary[T], k, shots, shot int) []T {
	n := l.cells()
	off := (k*shots + shot) * n
	return b.Strips[off : off+n]
}

// saveInitial records the initial state's strips (steps −1 and 0).
func saveInitial[T Float](p *Problem[T], l boundaryLayout, b *Boundary[T], f *Fields[T], shot int) {
	o := shot * p.cells()
	saveStrip(l, stripOf(l, b, 0, p.NShots, shot), f.U[1][o:o+p.cells()])
	saveStrip(l, stripOf(l, b, 1, p.NShots, shot), f.U[0][o:o+p.cells()])
}

// rebuildStep runs forward step n backwards for one shot: on entry
// b.U[cur] holds u_{n+1} and b.U[nxt] u_n; on return b.U[cur] holds
// u_{n−1}, and W_n is in w when w is not nil. step indexes the chunk's
// source amplitudes.
func rebuildStep[T Float](p *Problem[T], s *stencil[T], l boundaryLayout, b *Boundary[T], shot, n, step, cur, nxt int, w []T, rowParallel bool) {
	cells := p.cells()
	o := shot * cells
	u, un := b.U[nxt][o:o+cells], b.U[cur][o:o+cells]
	amp := b.SourceAmp[(step*p.NShots+shot)*p.NSources:]
	for r := 0; r < p.NSources; r++ {
		if i := p.SourceIndex[shot*p.NSources+r]; i >= 0 {
			un[i] -= amp[r]
		}
	}
	prev := stripOf(l, b, n, p.NShots, shot) // u_{n−1} outside the rectangle
	c := p.modelOf(shot)
	rw := rowFields[T]{u: u, un: un, c: c, w: w}
	runRows(p, s.h, rowParallel, func(lo, hi int) {
		for y := s.h + lo; y < s.h+hi; y++ {
			a0, a1, b0, b1 := l.runs(y)
			k := l.rowStart(y)
			for _, run := range [2][2]int{{a0, a1}, {b0, b1}} {
				for i := y*p.NX + run[0]; i < y*p.NX+run[1]; i++ {
					if w != nil {
						w[i] = (un[i] - 2*u[i] + prev[k]) / c[i]
					}
					un[i] = prev[k]
					k++
				}
			}
			if y >= l.y0 && y < l.y1 {
				forwardInterior(s, &rw, y*p.NX+l.x0, y*p.NX+l.x1, p.NX)
			}
		}
	})
}

// checkBoundary checks the buffers of boundary saving against a chunk.
func (p *Problem[T]) checkBoundary(c *Chunk[T], backward bool) error {
	b := c.Boundary
	if b == nil {
		return nil
	}
	if c.Store != nil && backward {
		return fmt.Errorf("a backward chunk takes W from a store or from boundary strips, not both")
	}
	n := p.NShots * p.BoundaryCells()
	if len(b.Strips)%max(n, 1) != 0 || len(b.Strips) < (c.Step0+c.NSteps+2)*n {
		return fmt.Errorf("boundary strips have %d elements, not whole strips of %d up to step %d", len(b.Strips), n, c.Step0+c.NSteps)
	}
	if !backward {
		return nil
	}
	if err := grid.CheckLen("boundary source amplitudes", len(b.SourceAmp), c.NSteps*p.NShots*p.NSources); err != nil {
		return err
	}
	for k := range b.U {
		if err := grid.CheckLen(fmt.Sprintf("boundary u[%d]", k), len(b.U[k]), p.NShots*p.cells()); err != nil {
			return err
		}
	}
	if c.GradC != nil {
		return grid.CheckLen("boundary w", len(b.W), p.NShots*p.cells())
	}
	return nil
}
