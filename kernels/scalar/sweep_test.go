package scalar

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/internal/testgrid"
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
			placeNearSeams(p, cfg.threads)
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
			same := func(name string, got, want []float64) { testgrid.Identical(t, name, got, want) }
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

// placeNearSeams puts p's sources and receivers on rows either side of
// each thread's seam (or at the top, middle and bottom for one thread),
// two sources on one cell and one receiver at no location.
func placeNearSeams(p *Problem[float64], threads int) {
	h := p.Halo()
	near := testgrid.RowsNearSeams(p.NY, h, threads)
	p.NSources, p.NReceivers = len(near)+1, len(near)+1
	p.SourceIndex = make([]int64, p.NShots*p.NSources)
	p.ReceiverIndex = make([]int64, p.NShots*p.NReceivers)
	for s := 0; s < p.NShots; s++ {
		for r, y := range near {
			p.SourceIndex[s*p.NSources+r] = int64(y*p.NX + h + 1 + 3*s)
			p.ReceiverIndex[s*p.NReceivers+r] = int64(y*p.NX + p.NX/2 + s)
		}
		p.SourceIndex[s*p.NSources+len(near)] = p.SourceIndex[s*p.NSources]
		p.ReceiverIndex[s*p.NReceivers+len(near)] = -1
	}
}

// TestBornForwardSweepsMatchSingleSteps is TestForwardSweepsMatchSingleSteps
// for the background and scattered fields of BornForward, with and without
// stores (W(u) then goes through a scratch row buffer).
func TestBornForwardSweepsMatchSingleSteps(t *testing.T) {
	defer parallel.SetThreads(0)
	defer func() { sweepSteps = 4 }()
	for _, cfg := range []struct {
		acc, shots, n, threads, steps, sweep int
		store, perShot                       bool
	}{
		{2, 1, 30, 1, 7, 3, true, false}, {8, 2, 264, 2, 6, 4, false, true}, {4, 1, 264, 3, 9, 4, true, false},
	} {
		t.Run(fmt.Sprintf("acc%d/shots%d/threads%d/store=%v", cfg.acc, cfg.shots, cfg.threads, cfg.store), func(t *testing.T) {
			parallel.SetThreads(cfg.threads)
			rng := rand.New(rand.NewPCG(11, uint64(cfg.n)))
			p := bornTestProblem(cfg.acc, cfg.shots, cfg.n, cfg.n+1, 5, cfg.perShot, rng)
			placeNearSeams(p.Problem, cfg.threads)
			p.NScatteredReceivers = p.NReceivers
			p.ScatteredReceiverIndex = append([]int64(nil), p.ReceiverIndex...)
			cells := cfg.shots * p.NY * p.NX
			src := randomVec(cfg.steps*cfg.shots*p.NSources, rng)
			srcSc := randomVec(cfg.steps*cfg.shots*p.NSources, rng)
			s0, s1 := randomState(p.Problem, rng), randomState(p.Problem, rng)
			type result struct {
				f, fsc *Fields[float64]
				c      *BornChunk[float64]
			}
			run := func(sweep int) result {
				sweepSteps = sweep
				c := &BornChunk[float64]{Chunk: Chunk[float64]{NSteps: cfg.steps, SourceAmp: src,
					ReceiverAmp: make([]float64, cfg.steps*cfg.shots*p.NReceivers)},
					ScatteredSourceAmp: srcSc, ScatteredReceiverAmp: make([]float64, cfg.steps*cfg.shots*p.NScatteredReceivers)}
				if cfg.store {
					c.Store, c.ScatteredStore = make([]float64, cfg.steps*cells), make([]float64, cfg.steps*cells)
				}
				r := result{fieldsFrom(s0), fieldsFrom(s1), c}
				BornForward(p, r.f, r.fsc, c)
				return r
			}
			sweepSteps = cfg.sweep
			if k := stepsPerSweep(p.Problem, newStencil(p.Problem), shotsTogether(p.Problem) == 0, cfg.steps); k != cfg.sweep {
				t.Fatalf("sweeps of %d steps, want %d", k, cfg.sweep)
			}
			got, want := run(cfg.sweep), run(1)
			same := func(name string, got, want []float64) { testgrid.Identical(t, name, got, want) }
			for k := 0; k < 2; k++ {
				same("u", got.f.U[k], want.f.U[k])
				same("u scattered", got.fsc.U[k], want.fsc.U[k])
				same("psiy scattered", got.fsc.PsiY[k], want.fsc.PsiY[k])
				same("zetax scattered", got.fsc.ZetaX[k], want.fsc.ZetaX[k])
			}
			same("receivers", got.c.ReceiverAmp, want.c.ReceiverAmp)
			same("scattered receivers", got.c.ScatteredReceiverAmp, want.c.ScatteredReceiverAmp)
			same("store", got.c.Store, want.c.Store)
			same("scattered store", got.c.ScatteredStore, want.c.ScatteredStore)
		})
	}
}

// TestBackwardSweepsMatchSingleSteps is TestForwardSweepsMatchSingleSteps
// for the adjoint: fields, source gradient and the accumulated model
// gradient, with the receiver gradient injected next to the seams.
func TestBackwardSweepsMatchSingleSteps(t *testing.T) {
	defer parallel.SetThreads(0)
	defer func() { sweepSteps = 4 }()
	for _, cfg := range []struct{ acc, shots, n, threads, interval, steps, sweep int }{
		{2, 1, 24, 1, 1, 7, 3}, {8, 2, 264, 2, 2, 6, 4}, {4, 1, 264, 3, 1, 9, 4}, {6, 1, 264, 2, 3, 5, 2},
	} {
		t.Run(fmt.Sprintf("acc%d/shots%d/threads%d/sweep%d", cfg.acc, cfg.shots, cfg.threads, cfg.sweep), func(t *testing.T) {
			parallel.SetThreads(cfg.threads)
			rng := rand.New(rand.NewPCG(13, uint64(cfg.n)))
			p := testProblem(cfg.acc, cfg.shots, cfg.n, cfg.n+2, 6, rng)
			p.StoreInterval = cfg.interval
			placeNearSeams(p, cfg.threads)
			cells := cfg.shots * p.NY * p.NX
			store := randomVec(((cfg.steps-1)/cfg.interval+1)*cells, rng)
			recGrad := randomVec(cfg.steps*cfg.shots*p.NReceivers, rng)
			s0 := randomAdjointState(p, rng)
			run := func(sweep int) (*Fields[float64], *Chunk[float64]) {
				sweepSteps = sweep
				f := fieldsFrom(s0)
				c := &Chunk[float64]{NSteps: cfg.steps, Store: store, GradC: make([]float64, cells),
					SourceAmp: make([]float64, cfg.steps*cfg.shots*p.NSources), ReceiverAmp: recGrad}
				if err := p.ValidateChunk(f, c, true); err != nil {
					t.Fatal(err)
				}
				Backward(p, f, c)
				return f, c
			}
			sweepSteps = cfg.sweep
			if k := stepsPerSweep(p, newStencil(p), shotsTogether(p) == 0, cfg.steps); k != cfg.sweep {
				t.Fatalf("sweeps of %d steps, want %d", k, cfg.sweep)
			}
			fp, cp := run(cfg.sweep)
			fs, cs := run(1)
			same := func(name string, got, want []float64) { testgrid.Identical(t, name, got, want) }
			for k := 0; k < 2; k++ {
				same("mu", fp.U[k], fs.U[k])
				same("psiy", fp.PsiY[k], fs.PsiY[k])
				same("psix", fp.PsiX[k], fs.PsiX[k])
				same("zetay", fp.ZetaY[k], fs.ZetaY[k])
				same("zetax", fp.ZetaX[k], fs.ZetaX[k])
			}
			same("source gradient", cp.SourceAmp, cs.SourceAmp)
			same("model gradient", cp.GradC, cs.GradC)
		})
	}
}
