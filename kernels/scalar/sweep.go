package scalar

import "github.com/torchwave/torchwave/kernels/parallel"

// A forward step reads every field once and writes it once, so on grids
// larger than the cache it runs at the speed of memory. The forward sweeps
// advance several steps in one parallel.Sweep over the rows: each step
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
	sw := sweep[T]{p: p, s: s, shot: shot}
	sw.levels = levels(p, f, c, shot, step, k, c.SourceAmp, c.ReceiverAmp, p.ReceiverIndex, p.NReceivers, c.Store)
	startLevels(p, sw.levels, f, step, shot)
	parallel.Sweep(p.NY-2*s.h, k, s.h, rowParallel, sw.rows)
}

// bornForwardSweep advances one shot of BornForward by k steps: each row
// block of a step advances the background, then the scattered field, then
// adds the coupling dc·W(u), which reads only that row's W(u).
func bornForwardSweep[T Float](p *BornProblem[T], s *stencil[T], f, fsc *Fields[T], c *BornChunk[T], shot, step, k int, rowParallel bool) {
	bg := p.Problem
	sw := sweep[T]{p: bg, s: s, shot: shot, dc: p.dcOf(shot)}
	sw.levels = levels(bg, f, &c.Chunk, shot, step, k, c.SourceAmp, c.ReceiverAmp, bg.ReceiverIndex, bg.NReceivers, c.Store)
	sw.scattered = levels(bg, fsc, &c.Chunk, shot, step, k, c.ScatteredSourceAmp, c.ScatteredReceiverAmp,
		p.ScatteredReceiverIndex, p.NScatteredReceivers, c.ScatteredStore)
	for j := range sw.levels {
		if sw.levels[j].fields.w == nil { // W(u) on the steps the store does not keep
			if sw.scratch == nil {
				sw.scratch = make([]T, bg.cells())
			}
			sw.levels[j].fields.w = sw.scratch
		}
	}
	startLevels(bg, sw.levels, f, step, shot)
	startLevels(bg, sw.scattered, fsc, step, shot)
	parallel.Sweep(bg.NY-2*s.h, k, s.h, rowParallel, sw.rows)
}

// sweep is one shot's steps; level j is step j of the sweep. A Born sweep
// also has the scattered field's levels and the coupling.
type sweep[T Float] struct {
	p                 *Problem[T]
	s                 *stencil[T]
	shot              int
	levels, scattered []level[T]
	dc, scratch       []T
}

// level is one wavefield's step of a sweep: the fields it reads and
// writes, the array its new wavefield goes into, its source and receiver
// amplitudes, and where its receivers are.
type level[T Float] struct {
	fields   rowFields[T]
	out      []T
	amp, rec []T
	recIndex []int64
	nRec     int
}

// levels builds k steps' levels of one wavefield from step of the chunk.
func levels[T Float](p *Problem[T], f *Fields[T], c *Chunk[T], shot, step, k int, amp, rec []T, recIndex []int64, nRec int, store []T) []level[T] {
	cells := p.cells()
	out := make([]level[T], k)
	for j := range out {
		cur, nxt := (step+j)%2, (step+j+1)%2
		out[j] = level[T]{fields: shotFields(p, f, shot, cur, nxt), out: f.U[nxt][shot*cells : (shot+1)*cells],
			amp: amp[(step+j)*p.NShots*p.NSources:], rec: rec[(step+j)*p.NShots*nRec:], recIndex: recIndex, nRec: nRec}
		out[j].fields.w = p.snapshot(store, c, c.Step0+step+j, shot)
	}
	return out
}

// startLevels records the first step's receivers, whose input is
// complete, and zeroes the later steps' receivers at no location: the
// others are recorded row by row as the step before finishes.
func startLevels[T Float](p *Problem[T], lv []level[T], f *Fields[T], step, shot int) {
	gather(lv[0].rec, f.U[step%2], lv[0].recIndex, shot, shot+1, lv[0].nRec, p.cells())
	for j := 1; j < len(lv); j++ {
		for r := 0; r < lv[j].nRec; r++ {
			if i := shot*lv[j].nRec + r; lv[j].recIndex[i] < 0 {
				lv[j].rec[i] = 0
			}
		}
	}
}

// rows advances interior rows [lo, hi) (0 is the first row inside the
// halo) by step j of the sweep.
func (sw *sweep[T]) rows(j, lo, hi int) {
	p, s, h := sw.p, sw.s, sw.s.h
	if sw.scattered == nil {
		updateRows(p, s, &sw.levels[j].fields, h+lo, h+hi, forwardBand[T], forwardInterior[T])
		sw.finish(sw.levels, j, lo, hi)
		return
	}
	bg, sc := &sw.levels[j].fields, &sw.scattered[j].fields
	for b0 := lo; b0 < hi; b0 += bornRowBlock {
		b1 := min(b0+bornRowBlock, hi)
		updateRows(p, s, bg, h+b0, h+b1, forwardBand[T], forwardInterior[T])
		updateRows(p, s, sc, h+b0, h+b1, forwardBand[T], forwardInterior[T])
		for y := h + b0; y < h+b1; y++ {
			a, b := y*p.NX+h, (y+1)*p.NX-h
			un, w, d := sc.un[a:b], bg.w[a:b], sw.dc[a:b]
			for i := range un {
				un[i] += d[i] * w[i]
			}
		}
	}
	sw.finish(sw.levels, j, lo, hi)
	sw.finish(sw.scattered, j, lo, hi)
}

// finish adds step j's sources on rows [lo, hi) and records the next
// step's receivers there, before a later step overwrites them.
func (sw *sweep[T]) finish(lv []level[T], j, lo, hi int) {
	p, h := sw.p, sw.s.h
	first, last := int64((h+lo)*p.NX), int64((h+hi)*p.NX)
	out := lv[j].out
	for r := 0; r < p.NSources; r++ {
		i := sw.shot*p.NSources + r
		if idx := p.SourceIndex[i]; idx >= first && idx < last {
			out[idx] += lv[j].amp[i]
		}
	}
	if j+1 == len(lv) {
		return
	}
	next := &lv[j+1]
	for r := 0; r < next.nRec; r++ {
		i := sw.shot*next.nRec + r
		if idx := next.recIndex[i]; idx >= first && idx < last {
			next.rec[i] = out[idx]
		}
	}
}
