package scalar

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// TestForwardSweepsMatchSingleSteps checks that several steps per sweep
// give bit for bit what one step per sweep gives: fields, receivers and stored
// snapshots, with sources next to the threads' seams, odd chunk lengths,
// one shot shared among threads (a grid past parallel's small-grid size)
// and several shots.
func TestForwardSweepsMatchSingleSteps(t *testing.T) {
	defer parallel.SetThreads(0)
	defer func() { sweepSteps = 4 }()
	for _, cfg := range []struct{ acc, shots, n, threads, interval, steps, sweep int }{
		{2, 1, 24, 1, 1, 7, 2}, {8, 2, 40, 2, 2, 6, 3}, {4, 1, 264, 2, 1, 5, 2}, {8, 1, 264, 3, 2, 9, 4},
		{6, 3, 264, 2, 1, 7, 3}, {4, 1, 264, 2, 3, 11, 4}, {2, 2, 300, 3, 1, 10, 8},
	} {
		t.Run(fmt.Sprintf("acc%d/shots%d/n%d/threads%d/sweep%d", cfg.acc, cfg.shots, cfg.n, cfg.threads, cfg.sweep), func(t *testing.T) {
			parallel.SetThreads(cfg.threads)
			rng := rand.New(rand.NewPCG(5, uint64(cfg.n)))
			p := testProblem(cfg.acc, cfg.shots, cfg.n, cfg.n+3, 6, rng)
			p.StoreInterval = cfg.interval
			h := p.Halo()
			// Sources and receivers on rows either side of each thread's
			// seam, two sources on one cell, one receiver at no location.
			rows := p.NY - 2*h
			var near []int
			for b := 1; b < cfg.threads; b++ {
				m := h + b*rows/cfg.threads
				near = append(near, m-3*h, m-h-1, m-1, m, m+h, m+2*h+1)
			}
			if cfg.threads == 1 {
				near = append(near, h, h+rows/2, p.NY-h-1)
			}
			p.NSources, p.NReceivers = len(near)+1, len(near)+1
			p.SourceIndex = make([]int64, cfg.shots*p.NSources)
			p.ReceiverIndex = make([]int64, cfg.shots*p.NReceivers)
			for s := 0; s < cfg.shots; s++ {
				for r, y := range near {
					p.SourceIndex[s*p.NSources+r] = int64(y*p.NX + h + 1 + 3*s)
					p.ReceiverIndex[s*p.NReceivers+r] = int64(y*p.NX + p.NX/2 + s)
				}
				p.SourceIndex[s*p.NSources+len(near)] = p.SourceIndex[s*p.NSources]
				p.ReceiverIndex[s*p.NReceivers+len(near)] = -1
			}
			cells := cfg.shots * p.NY * p.NX
			src := randomVec(cfg.steps*cfg.shots*p.NSources, rng)
			s0 := randomState(p, rng)
			run := func(sweep int) (*Fields[float64], *Chunk[float64]) {
				sweepSteps = sweep
				f := fieldsFrom(s0)
				c := &Chunk[float64]{NSteps: cfg.steps, SourceAmp: src,
					ReceiverAmp: make([]float64, cfg.steps*cfg.shots*p.NReceivers),
					Store:       make([]float64, ((cfg.steps-1)/cfg.interval+1)*cells)}
				if err := p.ValidateChunk(f, c, false); err != nil {
					t.Fatal(err)
				}
				Forward(p, f, c)
				return f, c
			}
			sweepSteps = cfg.sweep
			if k := stepsPerSweep(p, newStencil(p), shotsTogether(p) == 0, cfg.steps); k != cfg.sweep {
				t.Fatalf("sweeps of %d steps, want %d", k, cfg.sweep)
			}
			fp, cp := run(cfg.sweep)
			fs, cs := run(1)
			same := func(name string, got, want []float64) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s differs at %d: %g, want %g", name, i, got[i], want[i])
					}
				}
			}
			for k := 0; k < 2; k++ {
				same("u", fp.U[k], fs.U[k])
				same("psiy", fp.PsiY[k], fs.PsiY[k])
				same("psix", fp.PsiX[k], fs.PsiX[k])
				same("zetay", fp.ZetaY[k], fs.ZetaY[k])
				same("zetax", fp.ZetaX[k], fs.ZetaX[k])
			}
			same("receivers", cp.ReceiverAmp, cs.ReceiverAmp)
			same("store", cp.Store, cs.Store)
		})
	}
}
