package maxwell

import "github.com/torchwave/torchwave/kernels/parallel"

// A step is two passes over the grid, H then Ey, each reading and writing
// whole fields: on grids larger than the cache they run at the speed of
// memory. forwardSweep runs the passes of several steps in one
// parallel.Sweep over the rows, each pass trailing the one before by a
// half-stencil of rows, so the rows it reads are still in cache. Every cell
// is computed by the same kernels, with the same inputs, as in one pass
// per sweep, so the result is bit for bit the same.

// sweepSteps is the most steps one sweep advances; 0 turns sweeps off.
var sweepSteps = 4

// stepsPerSweep is how many of the remaining steps one sweep advances, or
// 0 where the rows are too few to sweep.
func stepsPerSweep[T Float](p *Problem[T], s *stencil[T], rowParallel bool, remaining int) int {
	if sweepSteps < 1 {
		return 0
	}
	return parallel.SweepLevels(p.NY-2*s.h, 2*min(sweepSteps, remaining), s.h, rowParallel) / 2
}

// forwardSweep advances one shot by k steps from step of the chunk: pass
// 2m updates H and pass 2m+1 updates Ey for step m of the sweep. H's row y
// reads Ey's rows y−h+1..y+h and Ey's row y reads H's rows y−h..y+h−1, so
// a lag of h rows keeps every pass behind the rows it reads and ahead of
// the rows the next pass overwrites.
func forwardSweep[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot, step, k int, rowParallel bool) {
	cells := p.cells()
	h := s.h
	views := make([]view[T], k)
	for m := range views {
		views[m] = shotView(p, f, shot, 0, 0)
		if n := c.Step0 + step + m; n%p.StoreInterval == 0 {
			views[m].stored(c, p, n, shot)
		}
		rec := c.ReceiverAmp[(step+m)*p.NShots*p.NReceivers:]
		for r := 0; r < p.NReceivers; r++ {
			if i := shot*p.NReceivers + r; p.ReceiverIndex[i] < 0 {
				rec[i] = 0
			}
		}
	}
	ey := f.EY[0][shot*cells : (shot+1)*cells]
	parallel.Sweep(p.NY-2*h, 2*k, h, rowParallel, func(j, lo, hi int) {
		m, v := j/2, &views[j/2]
		if j%2 == 0 {
			// The interior kernels write the stores of a pair together.
			s.rows(p.NX, h+lo, h+hi, (v.storeZ == nil) == (v.storeX == nil),
				func(y, x0, x1 int) { forwardH(p, s, v, y, x0, x1) },
				func(i0, i1 int) { forwardHInterior(s, v, i0, i1, p.NX) })
			return
		}
		s.rows(p.NX, h+lo, h+hi, (v.storeEy == nil) == (v.storeCurl == nil),
			func(y, x0, x1 int) { forwardE(p, s, v, y, x0, x1) },
			func(i0, i1 int) { forwardEInterior(s, v, i0, i1, p.NX) })
		// Sources, then receivers, on these rows of step m's Ey, before the
		// next step's Ey pass overwrites them.
		first, last := int64((h+lo)*p.NX), int64((h+hi)*p.NX)
		amp := c.SourceAmp[(step+m)*p.NShots*p.NSources:]
		for r := 0; r < p.NSources; r++ {
			if i := shot*p.NSources + r; p.SourceIndex[i] >= first && p.SourceIndex[i] < last {
				ey[p.SourceIndex[i]] += amp[i]
			}
		}
		rec := c.ReceiverAmp[(step+m)*p.NShots*p.NReceivers:]
		for r := 0; r < p.NReceivers; r++ {
			if i := shot*p.NReceivers + r; p.ReceiverIndex[i] >= first && p.ReceiverIndex[i] < last {
				rec[i] = ey[p.ReceiverIndex[i]]
			}
		}
	})
}

// backwardSweep runs k adjoint steps of one shot of Backward, from its
// j-th (counting from the chunk's last step): pass 2m is the adjoint of
// step m's Ey pass, pass 2m+1 the adjoint of its H pass, with the same
// stencil reach as the forward passes. The receiver gradient of step m
// goes into λEy, and step m's source gradient is read from it, row by row
// as the pass before finishes them.
func backwardSweep[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot, j, k int, rowParallel bool) {
	cells := p.cells()
	h := s.h
	o := shot * cells
	views := make([]view[T], k)
	steps := make([]int, k)
	for m := range views {
		steps[m] = c.NSteps - 1 - (j + m)
		cur, nxt := (j+m)%2, (j+m+1)%2
		v := shotView(p, f, shot, cur, nxt)
		if n := c.Step0 + steps[m]; n%p.StoreInterval == 0 {
			v.stored(c, p, n, shot)
			if c.GradCA != nil {
				v.gCA = c.GradCA[o : o+cells]
			}
			if c.GradCB != nil {
				v.gCB = c.GradCB[o : o+cells]
			}
			if c.GradCQ != nil {
				v.gCQ = c.GradCQ[o : o+cells]
			}
		}
		views[m] = v
	}
	// edges injects step m's receiver gradient into λEy on grid cells
	// [first, last) and reads its source gradient there.
	edges := func(m int, first, last int64) {
		ey := views[m].ey
		rec := c.ReceiverAmp[steps[m]*p.NShots*p.NReceivers:]
		for r := 0; r < p.NReceivers; r++ {
			if i := shot*p.NReceivers + r; p.ReceiverIndex[i] >= first && p.ReceiverIndex[i] < last {
				ey[p.ReceiverIndex[i]] += rec[i]
			}
		}
		src := c.SourceAmp[steps[m]*p.NShots*p.NSources:]
		for r := 0; r < p.NSources; r++ {
			if i := shot*p.NSources + r; p.SourceIndex[i] >= first && p.SourceIndex[i] < last {
				src[i] = ey[p.SourceIndex[i]]
			}
		}
	}
	// Sources at no location get a zero gradient, once, before the threads
	// share the rows.
	for m := range steps {
		src := c.SourceAmp[steps[m]*p.NShots*p.NSources:]
		for r := 0; r < p.NSources; r++ {
			if i := shot*p.NSources + r; p.SourceIndex[i] < 0 {
				src[i] = 0
			}
		}
	}
	edges(0, 0, int64(cells))
	parallel.Sweep(p.NY-2*h, 2*k, h, rowParallel, func(pass, lo, hi int) {
		m, v := pass/2, &views[pass/2]
		if pass%2 == 0 {
			// The interior kernel accumulates the gradients of ca and cb together.
			s.rows(p.NX, h+lo, h+hi, (v.gCA == nil) == (v.gCB == nil),
				func(y, x0, x1 int) { backwardE(p, s, v, y, x0, x1) },
				func(i0, i1 int) { backwardEInterior(s, v, i0, i1, p.NX) })
			return
		}
		s.rows(p.NX, h+lo, h+hi, true,
			func(y, x0, x1 int) { backwardH(p, s, v, y, x0, x1) },
			func(i0, i1 int) { backwardHInterior(s, v, i0, i1, p.NX) })
		if m+1 < k {
			edges(m+1, int64((h+lo)*p.NX), int64((h+hi)*p.NX))
		}
	})
}
