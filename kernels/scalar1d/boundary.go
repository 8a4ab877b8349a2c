package scalar1d

import (
	"fmt"

	"github.com/torchwave/torchwave/kernels/grid"
)

// Boundary saving, as kernels/scalar's: away from the PML, W is the plain
// second derivative and the leapfrog step runs backwards as well as
// forwards,
//
//	u_{n−1} = c·∂xx u_n + 2u_n − (u_{n+1} − s_n)
//
// so the forward pass records u on every interior cell outside the
// rebuilt interval (the PML and the h cells next to it), one strip per
// step, and the backward pass rebuilds u inside the interval step by step,
// takes the rest from the strips, and gets W there from the time
// difference of the wavefield:
//
//	W_n = (u_{n+1} − s_n − 2u_n + u_{n−1}) / c

// Boundary holds the buffers of boundary saving for one chunk. Strips
// spans the whole propagation: strip k holds u of step k−1 outside the
// interval, [k][NShots][BoundaryCells], so strips 0 and 1 are the initial
// state (u_prev, u) and strip n+2 the result of step n.
type Boundary[T Float] struct {
	Strips []T
	// Backward only. SourceAmp holds the forward's scaled source
	// amplitudes of the chunk's steps, [NSteps][NShots][NSources]. U is
	// the forward wavefield being rebuilt, a pair like Fields.U: on entry
	// U[0] is u after the chunk and U[1] the step before; it swaps every
	// step. W is scratch for one step's W, [NShots][NX], needed when the
	// chunk has GradC.
	SourceAmp []T
	U         [2][]T
	W         []T
}

// boundaryLayout is the interval [x0, x1) the reversed step rebuilds,
// where W is the plain second derivative. A strip holds the interior
// cells [h, x0) then [x1, nx−h).
type boundaryLayout struct {
	h, nx, x0, x1 int
}

func newBoundaryLayout[T Float](p *Problem[T]) boundaryLayout {
	h := p.Halo()
	l := boundaryLayout{h: h, nx: p.NX}
	l.x0, l.x1 = longestRun(plainLaplacian(h, p.AX, p.BX, p.DBX), h, p.NX-h)
	if l.x0 == l.x1 {
		l.x0, l.x1 = h, h
	}
	return l
}

// plainLaplacian marks the cells where the CPML terms of W vanish: every
// coefficient is zero there and a is zero within h, since the ψ
// derivative reads a·ψ.
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

func (l boundaryLayout) cells() int { return (l.nx - 2*l.h) - (l.x1 - l.x0) }

// runs are the two cell ranges a strip holds.
func (l boundaryLayout) runs() [2][2]int { return [2][2]int{{l.h, l.x0}, {l.x1, l.nx - l.h}} }

// saveStrip copies one shot's u outside the interval into its strip.
func saveStrip[T Float](l boundaryLayout, strip, u []T) {
	k := 0
	for _, r := range l.runs() {
		k += copy(strip[k:], u[r[0]:r[1]])
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
	o := shot * p.NX
	saveStrip(l, stripOf(l, b, 0, p.NShots, shot), f.U[1][o:o+p.NX])
	saveStrip(l, stripOf(l, b, 1, p.NShots, shot), f.U[0][o:o+p.NX])
}

// rebuildStep runs forward step n backwards for one shot: on entry
// b.U[cur] holds u_{n+1} and b.U[nxt] u_n; on return b.U[cur] holds
// u_{n−1}, and W_n is in w when w is not nil. step indexes the chunk's
// source amplitudes.
func rebuildStep[T Float](p *Problem[T], s *stencil[T], l boundaryLayout, b *Boundary[T], shot, n, step, cur, nxt int, w []T) {
	nx := p.NX
	o := shot * nx
	u, un := b.U[nxt][o:o+nx], b.U[cur][o:o+nx]
	amp := b.SourceAmp[(step*p.NShots+shot)*p.NSources:]
	for r := 0; r < p.NSources; r++ {
		if i := p.SourceIndex[shot*p.NSources+r]; i >= 0 {
			un[i] -= amp[r]
		}
	}
	prev := stripOf(l, b, n, p.NShots, shot) // u_{n−1} outside the interval
	c := p.modelOf(shot)
	k := 0
	for _, r := range l.runs() {
		for x := r[0]; x < r[1]; x++ {
			if w != nil {
				w[x] = (un[x] - 2*u[x] + prev[k]) / c[x]
			}
			un[x] = prev[k]
			k++
		}
	}
	for x := l.x0; x < l.x1; x++ {
		lw := s.lap(u, x)
		un[x] = c[x]*lw + 2*u[x] - un[x]
		if w != nil {
			w[x] = lw
		}
	}
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
		if err := grid.CheckLen(fmt.Sprintf("boundary u[%d]", k), len(b.U[k]), p.NShots*p.NX); err != nil {
			return err
		}
	}
	if c.GradC != nil {
		return grid.CheckLen("boundary w", len(b.W), p.NShots*p.NX)
	}
	return nil
}
