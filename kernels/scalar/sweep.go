package scalar

import "github.com/torchwave/torchwave/kernels/parallel"

// A forward step reads every field once and writes it once, so on grids
// larger than the cache it runs at the speed of memory. forwardSweep
// advances several steps in one sweep over the rows: each step trails the
// one before by a half-stencil of rows and finds the rows it reads still in
// cache. Every cell is computed by the same kernels, with the same inputs,
// as in one step per sweep, so the result is bit for bit the same.

// sweepSteps is the most steps one sweep advances; 1 turns sweeps off.
var sweepSteps = 4

// sweepBlock is how many rows the first step runs ahead at a time.
const sweepBlock = 16

// stepsPerSweep is how many of the remaining steps one sweep can advance:
// every thread's block of rows must be deep enough for the steps to trail
// each other inside it.
func stepsPerSweep[T Float](p *Problem[T], s *stencil[T], rowParallel bool, remaining int) int {
	rows := p.NY - 2*s.h
	t := 1
	if rowParallel {
		t = min(parallel.Threads(), rows)
	}
	k := min(sweepSteps, remaining)
	for k > 1 && rows/t < 2*k*s.h {
		k--
	}
	return k
}

// forwardSweep advances one shot by k steps from step of the chunk. With
// rowParallel each thread sweeps its own block of rows. Near a seam
// between blocks, the later steps need the neighbour's rows, so step j
// leaves j half-stencils of rows either side of each seam for a pass after
// all blocks are done, one step at a time.
func forwardSweep[T Float](p *Problem[T], s *stencil[T], f *Fields[T], c *Chunk[T], shot, step, k int, rowParallel bool) {
	cells := p.cells()
	sw := sweep[T]{p: p, s: s, shot: shot, k: k}
	for j := 0; j < k; j++ {
		cur, nxt := (step+j)%2, (step+j+1)%2
		lv := level[T]{fields: shotFields(p, f, shot, cur, nxt), out: f.U[nxt][shot*cells : (shot+1)*cells],
			amp: c.SourceAmp[(step+j)*p.NShots*p.NSources:], rec: c.ReceiverAmp[(step+j)*p.NShots*p.NReceivers:]}
		lv.fields.w = p.snapshot(c.Store, c, c.Step0+step+j, shot)
		sw.levels = append(sw.levels, lv)
	}
	// The first step's receivers read its input, which is complete.
	gather(sw.levels[0].rec, f.U[step%2], p.ReceiverIndex, shot, shot+1, p.NReceivers, cells)
	for j := 1; j < k; j++ {
		sw.zeroUnusedReceivers(j)
	}
	rows := p.NY - 2*s.h
	if !rowParallel {
		sw.run(0, rows, false, false)
		return
	}
	parallel.For(rows, func(lo, hi int) { sw.run(lo, hi, lo > 0, hi < rows) })
	for j := 1; j < k; j++ {
		parallel.For(rows, func(lo, hi int) { sw.seams(j, lo, hi, rows) })
	}
}

// sweep is one shot's k steps; level j is step j of the sweep.
type sweep[T Float] struct {
	p      *Problem[T]
	s      *stencil[T]
	shot   int
	k      int
	levels []level[T]
}

// level is one step of a sweep: the fields it reads and writes, the array
// its new wavefield goes into, and its source and receiver amplitudes.
type level[T Float] struct {
	fields   rowFields[T]
	out      []T
	amp, rec []T
}

// run sweeps interior rows [lo, hi) (0 is the first row inside the halo).
// Step j's row r reads step j−1's rows r±h and overwrites the rows step
// j−1 read around r±h, so it runs once step j−1 is h rows past it. Near a
// seam (deferTop, deferBottom), step j leaves j·h rows to seams.
func (sw *sweep[T]) run(lo, hi int, deferTop, deferBottom bool) {
	h := sw.s.h
	var start, end, done [maxSweepSteps]int
	for j := 0; j < sw.k; j++ {
		start[j], end[j] = lo, hi
		if deferTop {
			start[j] += j * h
		}
		if deferBottom {
			end[j] -= j * h
		}
		done[j] = start[j]
	}
	for done[sw.k-1] < end[sw.k-1] {
		if done[0] < end[0] {
			e := min(done[0]+sweepBlock, end[0])
			sw.rows(0, done[0], e)
			done[0] = e
		}
		for j := 1; j < sw.k; j++ {
			limit := done[j-1] - h
			if done[j-1] == end[j-1] {
				limit = end[j]
			}
			if limit = min(limit, end[j]); done[j] < limit {
				sw.rows(j, done[j], limit)
				done[j] = limit
			}
		}
	}
}

// maxSweepSteps bounds sweepSteps.
const maxSweepSteps = 8

// seams runs step j's rows that run left next to the seams of block
// [lo, hi), once every block has finished step j−1 there.
func (sw *sweep[T]) seams(j, lo, hi, rows int) {
	h := sw.s.h
	if lo > 0 {
		sw.rows(j, lo, lo+j*h)
	}
	if hi < rows {
		sw.rows(j, hi-j*h, hi)
	}
}

// rows advances interior rows [lo, hi) by step j of the sweep, adds that
// step's sources there, and records the next step's receivers there before
// a later step overwrites them.
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
	if j+1 == sw.k {
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
