package scalar3d

import (
	"fmt"

	"github.com/torchwave/torchwave/kernels/grid"
)

// Boundary saving, as kernels/scalar's (see its boundary.go): the forward
// pass records u on every cell outside the box that the backward pass
// rebuilds by running the leapfrog step in reverse, one strip per step;
// inside the box W is the plain Laplacian, outside it W comes from the
// time difference of the wavefield, W_n = (u_{n+1} − s_n − 2u_n + u_{n−1})/c.

// Boundary holds the buffers of boundary saving for one chunk. Strips
// spans the whole propagation: strip k holds u of step k−1 outside the
// box, [k][NShots][BoundaryCells], so strips 0 and 1 are the initial state
// (u_prev, u) and strip n+2 the result of step n.
type Boundary[T Float] struct {
	Strips []T
	// Backward only. SourceAmp holds the forward's scaled source
	// amplitudes of the chunk's steps, [NSteps][NShots][NSources]. U is
	// the forward wavefield being rebuilt, a pair like Fields.U: on entry
	// U[0] is u after the chunk and U[1] the step before; it swaps every
	// step. W is scratch for one step's W, [NShots][NZ][NY][NX], needed
	// when the chunk has GradC.
	SourceAmp []T
	U         [2][]T
	W         []T
}

// boundaryLayout is the box [z0, z1)×[y0, y1)×[x0, x1) the reversed step
// rebuilds, where W is the plain Laplacian, and the order of a strip's
// cells: plane by plane, row by row over the grid without its halo,
// skipping the box.
type boundaryLayout struct {
	h, nz, ny, nx          int
	z0, z1, y0, y1, x0, x1 int
}

func newBoundaryLayout[T Float](p *Problem[T]) boundaryLayout {
	h := p.Halo()
	l := boundaryLayout{h: h, nz: p.NZ, ny: p.NY, nx: p.NX}
	l.z0, l.z1 = longestRun(plainLaplacian(h, p.AZ, p.BZ, p.DBZ), h, p.NZ-h)
	l.y0, l.y1 = longestRun(plainLaplacian(h, p.AY, p.BY, p.DBY), h, p.NY-h)
	l.x0, l.x1 = longestRun(plainLaplacian(h, p.AX, p.BX, p.DBX), h, p.NX-h)
	if l.z0 == l.z1 || l.y0 == l.y1 || l.x0 == l.x1 {
		l.z0, l.z1, l.y0, l.y1, l.x0, l.x1 = h, h, h, h, h, h
	}
	return l
}

// plainLaplacian marks the cells of one axis where the CPML terms of W
// vanish: every coefficient is zero there and a is zero within h, since
// the ψ derivative reads a·ψ.
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
func (p *Problem[T]) BoundaryCells() int { return newBoundaryLayout(p).cells() }

func (l boundaryLayout) cells() int {
	return (l.nz-2*l.h)*(l.ny-2*l.h)*(l.nx-2*l.h) - (l.z1-l.z0)*(l.y1-l.y0)*(l.x1-l.x0)
}

// inBox reports whether row (z, y) crosses the box.
func (l boundaryLayout) inBox(z, y int) bool {
	return z >= l.z0 && z < l.z1 && y >= l.y0 && y < l.y1
}

// rowStart is the position of row (z, y)'s first cell in a strip.
func (l boundaryLayout) rowStart(z, y int) int {
	w := l.nx - 2*l.h
	gap := l.x1 - l.x0
	plane := (l.ny - 2*l.h) * w
	clamp := func(v, lo, hi int) int { return min(max(v-lo, 0), hi-lo) }
	k := (z-l.h)*plane - clamp(z, l.z0, l.z1)*(l.y1-l.y0)*gap
	k += (y - l.h) * w
	if z >= l.z0 && z < l.z1 {
		k -= clamp(y, l.y0, l.y1) * gap
	}
	return k
}

// runs returns the column ranges [a0, a1) and [b0, b1) of row (z, y) that
// a strip holds; the second is empty on rows that miss the box.
func (l boundaryLayout) runs(z, y int) (a0, a1, b0, b1 int) {
	if l.inBox(z, y) {
		return l.h, l.x0, l.x1, l.nx - l.h
	}
	return l.h, l.nx - l.h, 0, 0
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
		if err := grid.CheckLen(fmt.Sprintf("boundary u[%d]", k), len(b.U[k]), p.NShots*p.Cells()); err != nil {
			return err
		}
	}
	if c.GradC != nil {
		return grid.CheckLen("boundary w", len(b.W), p.NShots*p.Cells())
	}
	return nil
}

// saveStrip copies one shot's u outside the box into its strip.
func saveStrip[T Float](l boundaryLayout, strip, u []T) {
	k := 0
	for z := l.h; z < l.nz-l.h; z++ {
		for y := l.h; y < l.ny-l.h; y++ {
			base := (z*l.ny + y) * l.nx
			a0, a1, b0, b1 := l.runs(z, y)
			k += copy(strip[k:], u[base+a0:base+a1])
			k += copy(strip[k:], u[base+b0:base+b1])
		}
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
	o, n := shot*p.Cells(), p.Cells()
	saveStrip(l, stripOf(l, b, 0, p.NShots, shot), f.U[1][o:o+n])
	saveStrip(l, stripOf(l, b, 1, p.NShots, shot), f.U[0][o:o+n])
}

// rebuildStep runs forward step n backwards for one shot: on entry
// b.U[cur] holds u_{n+1} and b.U[nxt] u_n; on return b.U[cur] holds
// u_{n−1}, and W_n is in w when w is not nil. step indexes the chunk's
// source amplitudes.
func rebuildStep[T Float](p *Problem[T], s *stencil[T], l boundaryLayout, b *Boundary[T], shot, n, step, cur, nxt int, w []T, zParallel bool) {
	cells := p.Cells()
	o := shot * cells
	u, un := b.U[nxt][o:o+cells], b.U[cur][o:o+cells]
	amp := b.SourceAmp[(step*p.NShots+shot)*p.NSources:]
	for r := 0; r < p.NSources; r++ {
		if i := p.SourceIndex[shot*p.NSources+r]; i >= 0 {
			un[i] -= amp[r]
		}
	}
	prev := stripOf(l, b, n, p.NShots, shot) // u_{n−1} outside the box
	c := p.ModelOf(shot)
	fv := fieldViews[T]{u: u, un: un, c: c, w: w}
	runPlanes(s, zParallel, func(z0, z1 int) {
		for z := z0; z < z1; z++ {
			for y := l.h; y < l.ny-l.h; y++ {
				base := (z*l.ny + y) * l.nx
				a0, a1, b0, b1 := l.runs(z, y)
				k := l.rowStart(z, y)
				for _, run := range [2][2]int{{a0, a1}, {b0, b1}} {
					for i := base + run[0]; i < base+run[1]; i++ {
						if w != nil {
							w[i] = (un[i] - 2*u[i] + prev[k]) / c[i]
						}
						un[i] = prev[k]
						k++
					}
				}
				if l.inBox(z, y) {
					forwardInterior(s, &fv, base+l.x0, base+l.x1)
				}
			}
		}
	})
}
