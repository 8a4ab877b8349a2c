package scalar

import "github.com/torchwave/torchwave/kernels/parallel"

// A step reads every field once and writes it once, so on grids larger
// than the cache it runs at the speed of memory. The sweeps advance
// several steps, forward or adjoint, in one parallel.Sweep over the rows: each step
// trails the one before by a half-stencil of rows and finds the rows it
// reads still in cache. Every cell is computed by the same kernels, with
// the same inputs, in the same order, as in one step per sweep, so the
// result is bit for bit the same.

// sweepSteps is the most steps one sweep advances; 1 turns sweeps off.
var sweepSteps = 4

// stepsPerSweep is how many of the remaining steps one sweep advances.
func stepsPerSweep[T Float](p *Problem[T], s *stencil[T], rowParallel bool, remaining int) int {
	return parallel.SweepLevels(p.NY-2*s.h, min(sweepSteps, remaining), s.h, rowParallel)
}

// forwardSweep advances one shot of Forward by k steps from step of the
// chunk.
func forwardSweep[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot, step, k int, rowParallel bool) {
	sw := sweep[T]{p: p, s: s, shot: shot, band: forwardBand[T], interior: forwardInterior[T]}
	sw.levels = forwardLevels(p, f, c, shot, step, k, c.SourceAmp, c.ReceiverAmp, p.ReceiverIndex, p.NReceivers, c.Store)
	sw.run(rowParallel)
}

// backwardSweep runs k adjoint steps of one shot of Backward, from its
// j-th (counting from the chunk's last step).
func backwardSweep[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot, j, k int, rowParallel bool) {
	cells := p.cells()
	model := p.modelOf(shot)
	sw := sweep[T]{p: p, s: s, shot: shot, band: backwardBand[T], interior: backwardInterior[T], levels: make([]level[T], k)}
	for m := range sw.levels {
		step := c.NSteps - 1 - (j + m)
		cur, nxt := (j+m)%2, (j+m+1)%2
		lv := level[T]{fields: shotFields(p, f, shot, cur, nxt), out: f.U[nxt][shot*cells : (shot+1)*cells],
			amp: c.ReceiverAmp[step*p.NShots*p.NReceivers:], ampIndex: p.ReceiverIndex, nAmp: p.NReceivers, scale: model,
			rec: c.SourceAmp[step*p.NShots*p.NSources:], recIndex: p.SourceIndex, nRec: p.NSources, divide: model}
		if w := p.snapshot(c.Store, c, c.Step0+step, shot); c.GradC != nil && w != nil {
			lv.fields.w, lv.fields.g = w, c.GradC[shot*cells:(shot+1)*cells]
		}
		sw.levels[m] = lv
	}
	sw.run(rowParallel)
}

// bornForwardSweep advances one shot of BornForward by k steps: each row
// block of a step advances the background, then the scattered field, then
// adds the coupling dc·W(u), which reads only that row's W(u). W(u) goes
// to the store on the steps it keeps, else to *scratch, made on first use
// and kept by the caller for the chunk's other sweeps.
func bornForwardSweep[T Float](p *BornProblem[T], s *stencil[T], f, fsc *Fields[T], c *BornChunk[T], shot, step, k int, rowParallel bool, scratch *[]T) {
	bg := p.Problem
	sw := sweep[T]{p: bg, s: s, shot: shot, band: forwardBand[T], interior: forwardInterior[T], dc: p.dcOf(shot)}
	sw.levels = forwardLevels(bg, f, &c.Chunk, shot, step, k, c.SourceAmp, c.ReceiverAmp, bg.ReceiverIndex, bg.NReceivers, c.Store)
	sw.scattered = forwardLevels(bg, fsc, &c.Chunk, shot, step, k, c.ScatteredSourceAmp, c.ScatteredReceiverAmp,
		p.ScatteredReceiverIndex, p.NScatteredReceivers, c.ScatteredStore)
	for j := range sw.levels {
		if sw.levels[j].fields.w == nil {
			if *scratch == nil {
				*scratch = make([]T, bg.cells())
			}
			sw.levels[j].fields.w = *scratch
		}
	}
	sw.run(rowParallel)
}

// sweep is one shot's steps; level j is step j of the sweep. A Born sweep
// also has the scattered field's levels and the coupling.
type sweep[T Float] struct {
	p                 *Problem[T]
	s                 *stencil[T]
	shot              int
	band              func(*Problem[T], *stencil[T], *rowFields[T], int, int, int, int)
	interior          func(*stencil[T], *rowFields[T], int, int, int)
	levels, scattered []level[T]
	dc                []T
}

// level is one wavefield's step of a sweep: the fields it reads and
// writes and the array its new wavefield goes into; amp is added to the
// new wavefield at ampIndex (times scale there, when set), and rec records
// the step's input at recIndex (divided by divide there, when set). The
// forward adds sources and records receivers; the adjoint adds the
// receiver gradient and records the source gradient.
type level[T Float] struct {
	fields      rowFields[T]
	out         []T
	amp, scale  []T
	ampIndex    []int64
	nAmp        int
	rec, divide []T
	recIndex    []int64
	nRec        int
}

// forwardLevels builds k forward steps' levels of one wavefield from step
// of the chunk.
func forwardLevels[T Float](p *Problem[T], f *Fields[T], c *Chunk[T], shot, step, k int, amp, rec []T, recIndex []int64, nRec int, store []T) []level[T] {
	cells := p.cells()
	out := make([]level[T], k)
	for j := range out {
		cur, nxt := (step+j)%2, (step+j+1)%2
		out[j] = level[T]{fields: shotFields(p, f, shot, cur, nxt), out: f.U[nxt][shot*cells : (shot+1)*cells],
			amp: amp[(step+j)*p.NShots*p.NSources:], ampIndex: p.SourceIndex, nAmp: p.NSources,
			rec: rec[(step+j)*p.NShots*nRec:], recIndex: recIndex, nRec: nRec}
		out[j].fields.w = p.snapshot(store, c, c.Step0+step+j, shot)
	}
	return out
}

// run zeroes the recorded values at no location, records the first
// step's, whose input is complete (rows records the others, row by row as
// the step before finishes), and sweeps.
func (sw *sweep[T]) run(rowParallel bool) {
	for _, lv := range [][]level[T]{sw.levels, sw.scattered} {
		if lv == nil {
			continue
		}
		for j := range lv {
			for r := 0; r < lv[j].nRec; r++ {
				if i := sw.shot*lv[j].nRec + r; lv[j].recIndex[i] < 0 {
					lv[j].rec[i] = 0
				}
			}
		}
		sw.record(&lv[0], lv[0].fields.u, 0, int64(sw.p.cells()))
	}
	parallel.Sweep(sw.p.NY-2*sw.s.h, len(sw.levels), sw.s.h, rowParallel, sw.rows)
}

// rows advances interior rows [lo, hi) (0 is the first row inside the
// halo) by step j of the sweep.
func (sw *sweep[T]) rows(j, lo, hi int) {
	p, s, h := sw.p, sw.s, sw.s.h
	if sw.scattered == nil {
		updateRows(p, s, &sw.levels[j].fields, h+lo, h+hi, sw.band, sw.interior)
		sw.finish(sw.levels, j, lo, hi)
		return
	}
	bg, sc := &sw.levels[j].fields, &sw.scattered[j].fields
	for b0 := lo; b0 < hi; b0 += bornRowBlock {
		b1 := min(b0+bornRowBlock, hi)
		updateRows(p, s, bg, h+b0, h+b1, sw.band, sw.interior)
		updateRows(p, s, sc, h+b0, h+b1, sw.band, sw.interior)
		for y := h + b0; y < h+b1; y++ {
			a, b := y*p.NX+h, (y+1)*p.NX-h
			addProduct(sc.un[a:b], 1, sw.dc[a:b], bg.w[a:b])
		}
	}
	sw.finish(sw.levels, j, lo, hi)
	sw.finish(sw.scattered, j, lo, hi)
}

// finish adds step j's amplitudes on rows [lo, hi) and records the next
// step's there, before a later step overwrites them.
func (sw *sweep[T]) finish(lv []level[T], j, lo, hi int) {
	p, h := sw.p, sw.s.h
	first, last := int64((h+lo)*p.NX), int64((h+hi)*p.NX)
	cur := &lv[j]
	for r := 0; r < cur.nAmp; r++ {
		i := sw.shot*cur.nAmp + r
		if idx := cur.ampIndex[i]; idx >= first && idx < last {
			v := cur.amp[i]
			if cur.scale != nil {
				v *= cur.scale[idx]
			}
			cur.out[idx] += v
		}
	}
	if j+1 < len(lv) {
		sw.record(&lv[j+1], cur.out, first, last)
	}
}

// record records lv's input field at the record locations in cells
// [first, last).
func (sw *sweep[T]) record(lv *level[T], field []T, first, last int64) {
	for r := 0; r < lv.nRec; r++ {
		i := sw.shot*lv.nRec + r
		if idx := lv.recIndex[i]; idx >= first && idx < last {
			v := field[idx]
			if lv.divide != nil {
				v /= lv.divide[idx]
			}
			lv.rec[i] = v
		}
	}
}
