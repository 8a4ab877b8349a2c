package scalar

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// benchProblem is 1000×1000 plus a PML of 20 cells, float32.
func benchProblem(acc, shots, pml int) (*Problem[float32], *Fields[float32]) {
	rng := rand.New(rand.NewPCG(1, 2))
	p64 := testProblem(acc, shots, 1000+2*pml+acc, 1000+2*pml+acc, pml, rng)
	conv := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	p := &Problem[float32]{NShots: shots, NY: p64.NY, NX: p64.NX, Accuracy: acc, RDY: 0.1, RDX: 0.1,
		C: conv(p64.C), AY: conv(p64.AY), BY: conv(p64.BY), DBY: conv(p64.DBY), AX: conv(p64.AX), BX: conv(p64.BX), DBX: conv(p64.DBX),
		SourceIndex: p64.SourceIndex, ReceiverIndex: p64.ReceiverIndex, NSources: p64.NSources, NReceivers: p64.NReceivers, StoreInterval: 1}
	for i := range p.C {
		p.C[i] *= 0.01
	}
	n := shots * p.NY * p.NX
	// Each buffer at its own offset within a 4 KiB page, as the Python
	// package places them (_common.page_offset): buffers that share their
	// low 12 address bits alias in the CPU and run up to 1.7× slower.
	slot := 0
	z := func() []float32 {
		slot++
		off := (slot * 13 % 32) * 32 // floats: 128-byte steps
		return make([]float32, n+1024)[off : off+n]
	}
	p.C = append(z()[:0], p.C...)
	return p, &Fields[float32]{U: [2][]float32{z(), z()}, PsiY: [2][]float32{z(), z()}, PsiX: [2][]float32{z(), z()}, ZetaY: [2][]float32{z(), z()}, ZetaX: [2][]float32{z(), z()}}
}

// benchChunk is a chunk of steps with its source and receiver buffers.
func benchChunk(p *Problem[float32], steps int) *Chunk[float32] {
	return &Chunk[float32]{NSteps: steps, SourceAmp: make([]float32, steps*p.NSources*p.NShots), ReceiverAmp: make([]float32, steps*p.NReceivers*p.NShots)}
}

// reportCells reports throughput for cells updated per iteration.
func reportCells(b *testing.B, cells int) {
	b.ReportMetric(float64(cells*b.N)/b.Elapsed().Seconds()/1e6, "Mcells/s")
}

func BenchmarkForward(b *testing.B) {
	for _, cfg := range []struct{ acc, pml int }{{4, 20}, {8, 20}, {8, 0}} {
		b.Run(fmt.Sprintf("acc%d/pml%d", cfg.acc, cfg.pml), func(b *testing.B) {
			p, f := benchProblem(cfg.acc, 1, cfg.pml)
			const steps = 10
			c := benchChunk(p, steps)
			b.ResetTimer()
			for b.Loop() {
				Forward(p, f, c)
			}
			reportCells(b, p.NY*p.NX*steps)
		})
	}
}

func BenchmarkInteriorRow(b *testing.B) {
	p, f := benchProblem(8, 1, 0)
	s := newStencil(p)
	rw := rowFields[float32]{u: f.U[0], un: f.U[1], c: p.C}
	y := p.NY / 2
	i0, i1 := y*p.NX+s.x0, y*p.NX+s.x1
	for b.Loop() {
		for r := 0; r < 16; r++ {
			forwardInterior(s, &rw, i0+r*p.NX, i1+r*p.NX, p.NX)
		}
	}
	reportCells(b, (i1-i0)*16)
}

func BenchmarkForwardStore(b *testing.B) {
	p, f := benchProblem(8, 1, 20)
	const steps = 20
	c := benchChunk(p, steps)
	c.Store = make([]float32, steps*p.NY*p.NX)
	for i := range c.Store {
		c.Store[i] = 1 // fault the pages in before timing
	}
	b.ResetTimer()
	for b.Loop() {
		Forward(p, f, c)
	}
	reportCells(b, p.NY*p.NX*steps)
}

func BenchmarkBandRow(b *testing.B) {
	p, f := benchProblem(8, 1, 20)
	s := newStencil(p)
	rw := rowFields[float32]{u: f.U[0], un: f.U[1], psiY: f.PsiY[0], psiYn: f.PsiY[1], psiX: f.PsiX[0], psiXn: f.PsiX[1],
		zetaY: f.ZetaY[0], zetaYn: f.ZetaY[1], zetaX: f.ZetaX[0], zetaXn: f.ZetaX[1], c: p.C}
	y := s.h + 5 // a y-band row
	for b.Loop() {
		for r := 0; r < 16; r++ {
			forwardBand(p, s, &rw, y+r, y+r+1, s.h, p.NX-s.h)
		}
	}
	reportCells(b, (p.NX-2*s.h)*16)
}

func BenchmarkForwardThreads(b *testing.B) {
	for _, acc := range []int{4, 8} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("acc%d/t%d", acc, threads), func(b *testing.B) {
				parallel.SetThreads(threads)
				defer parallel.SetThreads(0)
				p, f := benchProblem(acc, 1, 20)
				const steps = 12
				c := benchChunk(p, steps)
				for b.Loop() {
					Forward(p, f, c)
				}
				reportCells(b, p.NY*p.NX*steps)
			})
		}
	}
}

func BenchmarkInteriorSweep(b *testing.B) {
	p, f := benchProblem(8, 1, 0)
	s := newStencil(p)
	rw := rowFields[float32]{u: f.U[0], un: f.U[1], c: p.C}
	rows := 0
	for b.Loop() {
		for y := s.h; y < p.NY-s.h; y++ {
			forwardInterior(s, &rw, y*p.NX+s.x0, y*p.NX+s.x1, p.NX)
		}
		rows = p.NY - 2*s.h
	}
	reportCells(b, (s.x1-s.x0)*rows)
}

func BenchmarkBackwardThreads(b *testing.B) {
	defer func() { sweepSteps = 4 }()
	for _, threads := range []int{1, 2} {
		for _, sweep := range []int{1, 4} {
			b.Run(fmt.Sprintf("t%d/sweep%d", threads, sweep), func(b *testing.B) {
				parallel.SetThreads(threads)
				defer parallel.SetThreads(0)
				sweepSteps = sweep
				p, f := benchProblem(8, 1, 20)
				const steps = 12
				n := p.NY * p.NX
				c := benchChunk(p, steps)
				c.Store, c.GradC = make([]float32, steps*n), make([]float32, n)
				for i := range c.Store {
					c.Store[i] = 1 // fault the pages in before timing
				}
				for b.Loop() {
					Backward(p, f, c)
				}
				reportCells(b, n*steps)
			})
		}
	}
}

func BenchmarkForwardShots(b *testing.B) {
	p, f := benchProblem(4, 4, 20)
	const steps = 10
	c := benchChunk(p, steps)
	for b.Loop() {
		Forward(p, f, c)
	}
	reportCells(b, p.NShots*p.NY*p.NX*steps)
}

// BenchmarkBornForward is the Born forward on the benchmark grid next to
// the plain forward: both fields, the coupling and no stored history.
func BenchmarkBornForward(b *testing.B) {
	defer func() { sweepSteps = 4 }()
	for _, threads := range []int{1, 2} {
		for _, sweep := range []int{1, 4} {
			b.Run(fmt.Sprintf("t%d/sweep%d", threads, sweep), func(b *testing.B) {
				parallel.SetThreads(threads)
				defer parallel.SetThreads(0)
				sweepSteps = sweep
				p, f := benchProblem(4, 1, 20)
				_, fsc := benchProblem(4, 1, 20)
				const steps = 12
				bp := &BornProblem[float32]{Problem: p, DC: make([]float32, len(p.C))}
				for i := range bp.DC {
					bp.DC[i] = 0.01 * p.C[i]
				}
				c := &BornChunk[float32]{Chunk: *benchChunk(p, steps),
					ScatteredSourceAmp: make([]float32, steps*p.NSources), ScatteredReceiverAmp: []float32{}}
				for b.Loop() {
					BornForward(bp, f, fsc, c)
				}
				reportCells(b, p.NY*p.NX*steps)
			})
		}
	}
}

// BenchmarkForwardSweeps compares several steps per sweep with one, for
// one shot (rows shared among the threads) and four (one shot per thread).
func BenchmarkForwardSweeps(b *testing.B) {
	for _, cfg := range []struct{ acc, shots int }{{8, 1}, {8, 4}, {4, 1}, {4, 4}} {
		for _, sweep := range []int{1, 2, 4, 6} {
			b.Run(fmt.Sprintf("acc%d/shots%d/sweep%d", cfg.acc, cfg.shots, sweep), func(b *testing.B) {
				defer func() { sweepSteps = 4 }()
				sweepSteps = sweep
				p, f := benchProblem(cfg.acc, cfg.shots, 20)
				const steps = 12
				c := benchChunk(p, steps)
				b.ResetTimer()
				for b.Loop() {
					Forward(p, f, c)
				}
				reportCells(b, p.NShots*p.NY*p.NX*steps)
			})
		}
	}
}

// BenchmarkBandSegments runs the x-band segments of every row outside the
// y band, as one step does, on one thread: the part of the band whose
// short strided runs the caches serve worst.
func BenchmarkBandSegments(b *testing.B) {
	for _, acc := range []int{4, 8} {
		b.Run(fmt.Sprintf("acc%d", acc), func(b *testing.B) {
			p, f := benchProblem(acc, 1, 20)
			s := newStencil(p)
			rw := shotFields(p, f, 0, 0, 1)
			cells := 0
			for b.Loop() {
				cells = 0
				for y := s.h; y < p.NY-s.h; {
					e := y + 1
					for e < p.NY-s.h && s.bandY[e] == s.bandY[y] {
						e++
					}
					if !s.bandY[y] {
						forwardBand(p, s, &rw, y, e, s.h, s.x0)
						forwardBand(p, s, &rw, y, e, s.x1, p.NX-s.h)
						cells += (e - y) * (s.x0 - s.h + p.NX - s.h - s.x1)
					}
					y = e
				}
			}
			reportCells(b, cells)
		})
	}
}
