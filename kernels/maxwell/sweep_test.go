package maxwell

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/internal/testgrid"
	"github.com/torchwave/torchwave/kernels/parallel"
)

// TestForwardSweepsMatchPasses checks that several steps per sweep give
// bit for bit what one pass per sweep gives: fields, receivers and stored
// fields, with sources and receivers next to the threads' seams, one shot
// shared among threads (a grid past parallel's small-grid size) and
// several shots.
func TestForwardSweepsMatchPasses(t *testing.T) {
	defer parallel.SetThreads(0)
	defer func() { sweepSteps = 4 }()
	for _, cfg := range []struct{ stencil, shots, n, threads, interval, steps, sweep int }{
		{2, 1, 24, 1, 1, 7, 3}, {8, 2, 60, 2, 2, 6, 3}, {4, 1, 264, 2, 1, 5, 4}, {8, 1, 264, 3, 2, 9, 2},
		{6, 3, 264, 2, 1, 7, 3}, {2, 1, 300, 3, 3, 11, 8},
	} {
		t.Run(fmt.Sprintf("stencil%d/shots%d/n%d/threads%d/sweep%d", cfg.stencil, cfg.shots, cfg.n, cfg.threads, cfg.sweep), func(t *testing.T) {
			parallel.SetThreads(cfg.threads)
			rng := rand.New(rand.NewPCG(7, uint64(cfg.n)))
			p := testProblem(cfg.stencil, cfg.shots, cfg.n, cfg.n+3, 6, false, rng)
			p.StoreInterval = cfg.interval
			placeNearSeams(p, cfg.threads)
			cells := cfg.shots * p.NY * p.NX
			src := randomVec(cfg.steps*cfg.shots*p.NSources, rng)
			s0 := newState(p, rng)
			run := func(sweep int) (*state, *Chunk[float64]) {
				sweepSteps = sweep
				st := &state{}
				cp := func(v []float64) []float64 { return append([]float64(nil), v...) }
				pair := func(v [2][]float64) [2][]float64 { return [2][]float64{cp(v[0]), cp(v[1])} }
				st.f = Fields[float64]{EY: pair(s0.f.EY), HX: cp(s0.f.HX), HZ: cp(s0.f.HZ),
					MEyX: pair(s0.f.MEyX), MEyZ: pair(s0.f.MEyZ), MHxZ: pair(s0.f.MHxZ), MHzX: pair(s0.f.MHzX)}
				n := ((cfg.steps-1)/cfg.interval + 1) * cells
				c := &Chunk[float64]{NSteps: cfg.steps, SourceAmp: src,
					ReceiverAmp: make([]float64, cfg.steps*cfg.shots*p.NReceivers),
					StoreEy:     make([]float64, n), StoreCurl: make([]float64, n), StoreDZ: make([]float64, n), StoreDX: make([]float64, n)}
				if err := p.ValidateChunk(&st.f, c, false); err != nil {
					t.Fatal(err)
				}
				Forward(p, &st.f, c)
				return st, c
			}
			sweepSteps = cfg.sweep
			if k := stepsPerSweep(p, newStencil(p), shotsTogether(p) == 0, cfg.steps); k != cfg.sweep {
				t.Fatalf("sweeps of %d steps, want %d", k, cfg.sweep)
			}
			sp, cp := run(cfg.sweep)
			ss, cs := run(0)
			same := func(name string, got, want []float64) { testgrid.Identical(t, name, got, want) }
			names := []string{"ey", "hx", "hz", "m_ey_x", "m_ey_z", "m_hx_z", "m_hz_x"}
			for i, v := range sp.current(0) {
				same(names[i], v, ss.current(0)[i])
			}
			same("receivers", cp.ReceiverAmp, cs.ReceiverAmp)
			same("store ey", cp.StoreEy, cs.StoreEy)
			same("store curl", cp.StoreCurl, cs.StoreCurl)
			same("store dz", cp.StoreDZ, cs.StoreDZ)
			same("store dx", cp.StoreDX, cs.StoreDX)
		})
	}
}

// placeNearSeams puts p's sources and receivers on rows either side of
// each thread's seam (or at the top, middle and bottom for one thread),
// one source at no location and two receivers on one cell: the adjoint
// injects at receivers what the forward injects at sources.
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
		p.SourceIndex[s*p.NSources+len(near)] = -1
		p.ReceiverIndex[s*p.NReceivers+len(near)] = p.ReceiverIndex[s*p.NReceivers]
	}
}

// TestBackwardSweepsMatchPasses is TestForwardSweepsMatchPasses for the
// adjoint: adjoint fields, source gradient and the three coefficient
// gradients.
func TestBackwardSweepsMatchPasses(t *testing.T) {
	defer parallel.SetThreads(0)
	defer func() { sweepSteps = 4 }()
	for _, cfg := range []struct{ stencil, shots, n, threads, interval, steps, sweep int }{
		{2, 1, 24, 1, 1, 7, 3}, {8, 2, 264, 2, 2, 6, 4}, {4, 1, 264, 3, 1, 9, 4}, {6, 1, 264, 2, 3, 5, 2},
	} {
		t.Run(fmt.Sprintf("stencil%d/shots%d/threads%d/sweep%d", cfg.stencil, cfg.shots, cfg.threads, cfg.sweep), func(t *testing.T) {
			parallel.SetThreads(cfg.threads)
			rng := rand.New(rand.NewPCG(17, uint64(cfg.n)))
			p := testProblem(cfg.stencil, cfg.shots, cfg.n, cfg.n+2, 6, false, rng)
			p.StoreInterval = cfg.interval
			placeNearSeams(p, cfg.threads)
			cells := cfg.shots * p.NY * p.NX
			n := ((cfg.steps-1)/cfg.interval + 1) * cells
			stores := [4][]float64{randomVec(n, rng), randomVec(n, rng), randomVec(n, rng), randomVec(n, rng)}
			recGrad := randomVec(cfg.steps*cfg.shots*p.NReceivers, rng)
			s0 := newState(p, rng)
			run := func(sweep int) (*state, *Chunk[float64]) {
				sweepSteps = sweep
				st := &state{}
				cp := func(v []float64) []float64 { return append([]float64(nil), v...) }
				pair := func(v [2][]float64) [2][]float64 { return [2][]float64{cp(v[0]), cp(v[1])} }
				st.f = Fields[float64]{EY: pair(s0.f.EY), HX: cp(s0.f.HX), HZ: cp(s0.f.HZ),
					MEyX: pair(s0.f.MEyX), MEyZ: pair(s0.f.MEyZ), MHxZ: pair(s0.f.MHxZ), MHzX: pair(s0.f.MHzX)}
				c := &Chunk[float64]{NSteps: cfg.steps, SourceAmp: make([]float64, cfg.steps*cfg.shots*p.NSources), ReceiverAmp: recGrad,
					StoreEy: stores[0], StoreCurl: stores[1], StoreDZ: stores[2], StoreDX: stores[3],
					GradCA: make([]float64, cells), GradCB: make([]float64, cells), GradCQ: make([]float64, cells)}
				if err := p.ValidateChunk(&st.f, c, true); err != nil {
					t.Fatal(err)
				}
				Backward(p, &st.f, c)
				return st, c
			}
			sweepSteps = cfg.sweep
			if k := stepsPerSweep(p, newStencil(p), shotsTogether(p) == 0, cfg.steps); k != cfg.sweep {
				t.Fatalf("sweeps of %d steps, want %d", k, cfg.sweep)
			}
			sp, cp := run(cfg.sweep)
			ss, cs := run(0)
			same := func(name string, got, want []float64) { testgrid.Identical(t, name, got, want) }
			names := []string{"ey", "hx", "hz", "m_ey_x", "m_ey_z", "m_hx_z", "m_hz_x"}
			for k := 0; k < 2; k++ {
				for i, v := range sp.current(k) {
					same(fmt.Sprintf("%s[%d]", names[i], k), v, ss.current(k)[i])
				}
			}
			same("source gradient", cp.SourceAmp, cs.SourceAmp)
			same("grad ca", cp.GradCA, cs.GradCA)
			same("grad cb", cp.GradCB, cs.GradCB)
			same("grad cq", cp.GradCQ, cs.GradCQ)
		})
	}
}
