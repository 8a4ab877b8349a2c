package scalar3d

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// benchSize is the model's cells per axis (the PML of 20 and the halo come
// on top): TORCHWAVE_BENCH3D_N, 200 for the 240³ target problem, or a
// small default so that a plain -bench run stays short.
func init() {
	if n, err := strconv.Atoi(os.Getenv("TORCHWAVE_BENCH3D_TILE")); err == nil && n > 0 {
		tileBudget = n << 10
	}
}

func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("TORCHWAVE_BENCH3D_N")); err == nil && n > 0 {
		return n
	}
	return 64
}

// benchProblem is an n³ model plus a PML of pml cells on every face,
// float32, with every buffer at its own offset within a 4 KiB page.
func benchProblem(acc, shots, n, pml int) (*Problem[float32], *Fields[float32]) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := n + 2*pml + acc
	p64 := testProblem(acc, shots, m, m, m, pml, rng)
	p, _ := toFloat32(p64, state{})
	for i := range p.C {
		p.C[i] *= 0.05
	}
	cells := shots * p.Cells()
	slot := 0
	z := func() []float32 {
		slot++
		off := (slot * 13 % 32) * 32
		v := make([]float32, cells+1024)[off : off+cells]
		clear(v) // touch every page before the timing starts
		return v
	}
	p.C = append(z()[:0], p.C...)
	pair := func() [2][]float32 { return [2][]float32{z(), z()} }
	f := &Fields[float32]{U: pair(), PsiZ: pair(), PsiY: pair(), PsiX: pair(), ZetaZ: pair(), ZetaY: pair(), ZetaX: pair()}
	// A smooth start, so that no denormals slow the run.
	for i := range f.U[0] {
		f.U[0][i] = float32(i%97) * 1e-3
	}
	return p, f
}

func benchChunk(p *Problem[float32], steps int) *Chunk[float32] {
	return &Chunk[float32]{NSteps: steps, SourceAmp: make([]float32, steps*p.NSources*p.NShots), ReceiverAmp: make([]float32, steps*p.NReceivers*p.NShots)}
}

// reportCells reports cells per second; cells counts the model and PML
// cells (the padded grid without its halo), as bench/bench_scalar3d.py
// does.
func reportCells(b *testing.B, cells int, cpu0 time.Duration) {
	b.ReportMetric(float64(cells)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mcells/s")
	// Per second of CPU time as well: on a shared machine the wall time
	// also counts the time other processes held the cores.
	b.ReportMetric(float64(cells)*float64(b.N)/(cpuTime()-cpu0).Seconds()/1e6, "Mcells/cpu-s")
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type benchCase struct{ acc, shots, threads int }

func benchCases() []benchCase {
	var out []benchCase
	for _, acc := range []int{8, 4} {
		for _, shots := range []int{1, 2} {
			for _, threads := range []int{1, 2} {
				out = append(out, benchCase{acc, shots, threads})
			}
		}
	}
	return out
}

// BenchmarkForward: Mcells/s counts every cell of the padded grid, per
// shot and step.
func BenchmarkForward(b *testing.B) {
	defer parallel.SetThreads(0)
	for _, bc := range benchCases() {
		b.Run(fmt.Sprintf("acc%d/shots%d/threads%d", bc.acc, bc.shots, bc.threads), func(b *testing.B) {
			parallel.SetThreads(bc.threads)
			p, f := benchProblem(bc.acc, bc.shots, benchSize(), 20)
			const steps = 4
			c := benchChunk(p, steps)
			cpu0 := cpuTime()
			for b.Loop() {
				Forward(p, f, c)
			}
			reportCells(b, p.NShots*modelCells(p)*steps, cpu0)
		})
	}
}

// BenchmarkForwardBackward is a forward pass storing W every step, then
// the backward pass with the model gradient.
func BenchmarkForwardBackward(b *testing.B) {
	defer parallel.SetThreads(0)
	for _, bc := range benchCases() {
		b.Run(fmt.Sprintf("acc%d/shots%d/threads%d", bc.acc, bc.shots, bc.threads), func(b *testing.B) {
			parallel.SetThreads(bc.threads)
			p, f := benchProblem(bc.acc, bc.shots, benchSize(), 20)
			const steps = 2
			c := benchChunk(p, steps)
			c.Store = make([]float32, steps*p.NShots*p.Cells())
			g := make([]float32, p.NShots*p.Cells())
			clear(c.Store)
			clear(g)
			bc := benchChunk(p, steps)
			bc.Store, bc.GradC = c.Store, g
			cpu0 := cpuTime()
			for b.Loop() {
				Forward(p, f, c)
				Backward(p, f, bc)
			}
			reportCells(b, p.NShots*modelCells(p)*steps, cpu0)
		})
	}
}

// modelCells is the number of cells of one shot's grid without the halo.
func modelCells[T Float](p *Problem[T]) int {
	h := p.Halo()
	return (p.NZ - 2*h) * (p.NY - 2*h) * (p.NX - 2*h)
}

// BenchmarkKernels runs one shot on one thread on a grid without PML (the
// interior kernel only) and on one that is all PML band (the row kernel
// only), small enough to stay in cache: the kernels' compute speed.
func BenchmarkKernels(b *testing.B) {
	defer parallel.SetThreads(0)
	parallel.SetThreads(1)
	for _, bc := range []struct {
		name   string
		n, pml int
	}{{"interior", 48, 0}, {"band", 8, 20}} {
		for _, acc := range []int{8, 4} {
			b.Run(fmt.Sprintf("%s/acc%d", bc.name, acc), func(b *testing.B) {
				p, f := benchProblem(acc, 1, bc.n, bc.pml)
				const steps = 10
				c := benchChunk(p, steps)
				cpu0 := cpuTime()
				for b.Loop() {
					Forward(p, f, c)
				}
				reportCells(b, modelCells(p)*steps, cpu0)
			})
		}
	}
}
