package scalar

import "github.com/torchwave/torchwave/kernels/parallel"

// A forward step reads every field once and writes it once, so on grids
// larger than the cache it runs at the speed of memory. forwardSweep
// advances several steps in one parallel.Sweep over the rows: each step
// trails the one before by a half-stencil of rows and finds the rows it
// reads still in cache. Every cell is computed by the same kernels, with
// the same inputs, as in one step per sweep, so the result is bit for bit
// the same.

// sweepSteps is the most steps one sweep advances; 1 turns sweeps off.
var sweepSteps = 4

// stepsPerSweep is how many of the remaining steps one sweep advances.
func stepsPerSweep[T Float](p *Problem[T], s *stencil[T], rowParallel bool, remaining int) int {
	return parallel.SweepLevels(p.NY-2*s.h, min(sweepSteps, remaining), s.h, rowParallel)
}

// forwardSweep advances one shot by k steps from step of the chunk.
func forwardSweep[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot, step, k int, rowParallel bool) {
	cells := p.cells()
	sw := sweep[T]{p: p, s: s, shot: shot, levels: make([]level[T], k)}
	for j := range sw.levels {
		cur, nxt := (step+j)%2, (step+j+1)%2
		lv := level[T]{fields: shotFields(p, f, shot, cur, nxt), out: f.U[nxt][shot*cells : (shot+1)*cells],
			amp: c.SourceAmp[(step+j)*p.NShots*p.NSources:], rec: c.ReceiverAmp[(step+j)*p.NShots*p.NReceivers:]}
		lv.fields.w = p.snapshot(c.Store, c, c.Step0+step+j, shot)
		sw.levels[j] = lv
	}
	// The first step's receivers read its input, which is complete; the
	// later steps' are recorded row by row as the step before finishes.
	gather(sw.levels[0].rec, f.U[step%2], p.ReceiverIndex, shot, shot+1, p.NReceivers, cells)
	for j := 1; j < k; j++ {
		sw.zeroUnusedReceivers(j)
	}
	parallel.Sweep(p.NY-2*s.h, k, s.h, rowParallel, sw.rows)
}

// sweep is one shot's steps; level j is step j of the sweep.
type sweep[T Float] struct {
	p      *Problem[T]
	s      *stencil[T]
	shot   int
	levels []level[T]
}

// level is one step of a sweep: the fields it reads and writes, the array
// its new wavefield goes into, and its source and receiver amplitudes.
type level[T Float] struct {
	fields   rowFields[T]
	out      []T
	amp, rec []T
}

// rows advances interior rows [lo, hi) (0 is the first row inside the
// halo) by step j of the sweep, adds that step's sources there, and
// records the next step's receivers there before a later step overwrites
// them.
func (sw *sweep[T]) rows(j, lo, hi int) {
	p, h := sw.p, sw.s.h
	lv := &sw.levels[j]
	updateRows(p, sw.s, &lv.fields, h+lo, h+hi, forwardBand[T], forwardInterior[T])
	first, last := int64((h+lo)*p.NX), int64((h+hi)*p.NX)
	for r := 0; r < p.NSources; r++ {
		i := sw.shot*p.NSources + r
		if idx := p.SourceIndex[i]; idx >= first && idx < last {
			lv.out[idx] += lv.amp[i]
		}
	}
	if j+1 == len(sw.levels) {
		return
	}
	next := &sw.levels[j+1]
	for r := 0; r < p.NReceivers; r++ {
		i := sw.shot*p.NReceivers + r
		if idx := p.ReceiverIndex[i]; idx >= first && idx < last {
			next.rec[i] = lv.out[idx]
		}
	}
}

// zeroUnusedReceivers zeroes step j's receivers at no location, as gather
// does: rows never sees them.
func (sw *sweep[T]) zeroUnusedReceivers(j int) {
	p := sw.p
	for r := 0; r < p.NReceivers; r++ {
		if i := sw.shot*p.NReceivers + r; p.ReceiverIndex[i] < 0 {
			sw.levels[j].rec[i] = 0
		}
	}
}
