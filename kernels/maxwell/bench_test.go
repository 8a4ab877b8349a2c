package maxwell

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// benchProblem is one shot of 1000×1000 plus a CPML of 20 cells, float32.
func benchProblem(stencil int) (*Problem[float32], *Fields[float32]) {
	const pml = 20
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1000 + 2*pml + stencil
	p64 := testProblem(stencil, 1, n, n, pml, false, rng)
	conv := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	p := &Problem[float32]{NShots: 1, NY: n, NX: n, Stencil: stencil, RDY: p64.RDY, RDX: p64.RDX,
		CA: conv(p64.CA), CB: conv(p64.CB), CQ: conv(p64.CQ),
		AY: conv(p64.AY), BY: conv(p64.BY), AYH: conv(p64.AYH), BYH: conv(p64.BYH),
		AX: conv(p64.AX), BX: conv(p64.BX), AXH: conv(p64.AXH), BXH: conv(p64.BXH),
		SourceIndex: p64.SourceIndex, ReceiverIndex: p64.ReceiverIndex,
		NSources: p64.NSources, NReceivers: p64.NReceivers, StoreInterval: 1}
	z := func() []float32 { return make([]float32, n*n) }
	pair := func() [2][]float32 { return [2][]float32{z(), z()} }
	return p, &Fields[float32]{EY: pair(), HX: z(), HZ: z(), MEyX: pair(), MEyZ: pair(), MHxZ: pair(), MHzX: pair()}
}

func benchChunk(p *Problem[float32], steps int) *Chunk[float32] {
	c := &Chunk[float32]{NSteps: steps,
		SourceAmp:   make([]float32, steps*p.NShots*p.NSources),
		ReceiverAmp: make([]float32, steps*p.NShots*p.NReceivers)}
	for i := range c.SourceAmp {
		c.SourceAmp[i] = 1
	}
	return c
}

// reportCells reports throughput for cells updated per iteration.
func reportCells(b *testing.B, cells int) {
	b.ReportMetric(float64(cells*b.N)/b.Elapsed().Seconds()/1e6, "Mcells/s")
}

func BenchmarkForward(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	for _, stencil := range []int{2, 4, 8} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("stencil%d/threads%d", stencil, threads), func(b *testing.B) {
				parallel.SetThreads(threads)
				p, f := benchProblem(stencil)
				const steps = 10
				c := benchChunk(p, steps)
				for b.Loop() {
					Forward(p, f, c)
				}
				reportCells(b, p.NY*p.NX*steps)
			})
		}
	}
}

// BenchmarkBackward runs the adjoint with every store read and every
// gradient accumulated, as a training step does.
func BenchmarkBackward(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	for _, stencil := range []int{2, 4, 8} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("stencil%d/threads%d", stencil, threads), func(b *testing.B) {
				parallel.SetThreads(threads)
				p, f := benchProblem(stencil)
				const steps = 10
				c := benchChunk(p, steps)
				n := steps * p.NY * p.NX
				store := func() []float32 { return make([]float32, n) }
				c.StoreEy, c.StoreCurl, c.StoreDZ, c.StoreDX = store(), store(), store(), store()
				Forward(p, f, c)
				g := func() []float32 { return make([]float32, p.NY*p.NX) }
				c.GradCA, c.GradCB, c.GradCQ = g(), g(), g()
				for b.Loop() {
					Backward(p, f, c)
				}
				reportCells(b, p.NY*p.NX*steps)
			})
		}
	}
}

// BenchmarkForwardSweeps compares several steps per sweep with one pass
// per sweep, stencil 4, one shot on two threads.
func BenchmarkForwardSweeps(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	defer func() { sweepSteps = 4 }()
	for _, sweep := range []int{0, 1, 2, 4} {
		b.Run(fmt.Sprintf("sweep%d", sweep), func(b *testing.B) {
			parallel.SetThreads(2)
			sweepSteps = sweep
			p, f := benchProblem(4)
			const steps = 12
			c := benchChunk(p, steps)
			for b.Loop() {
				Forward(p, f, c)
			}
			reportCells(b, p.NY*p.NX*steps)
		})
	}
}

// BenchmarkBackwardSweeps compares several adjoint steps per sweep with one
// pass per sweep, stencil 4, every gradient, one shot on one thread.
func BenchmarkBackwardSweeps(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	defer func() { sweepSteps = 4 }()
	for _, sweep := range []int{0, 4} {
		b.Run(fmt.Sprintf("sweep%d", sweep), func(b *testing.B) {
			parallel.SetThreads(1)
			sweepSteps = sweep
			p, f := benchProblem(4)
			const steps = 12
			c := benchChunk(p, steps)
			n := steps * p.NY * p.NX
			store := func() []float32 { return make([]float32, n) }
			c.StoreEy, c.StoreCurl, c.StoreDZ, c.StoreDX = store(), store(), store(), store()
			Forward(p, f, c)
			g := func() []float32 { return make([]float32, p.NY*p.NX) }
			c.GradCA, c.GradCB, c.GradCQ = g(), g(), g()
			for b.Loop() {
				Backward(p, f, c)
			}
			reportCells(b, p.NY*p.NX*steps)
		})
	}
}
