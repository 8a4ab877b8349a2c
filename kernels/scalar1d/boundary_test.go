package scalar1d

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// boundaryProblem is testProblem with a reflecting left end (no PML on
// it).
func boundaryProblem(acc, nx int, perShot bool, rng *rand.Rand) *Problem[float64] {
	p := testProblem(acc, 2, nx, 5, perShot, rng)
	for x := 0; x < nx/2; x++ {
		p.AX[x], p.BX[x], p.DBX[x] = 0, 0, 0
	}
	return p
}

// TestBoundaryRebuild runs a few hundred steps forward recording strips
// in chunks, then backwards in other chunks: the rebuilt wavefield must
// match the forward's at every chunk edge, the model gradient the one
// from a full store, and the adjoint itself must not change at all.
func TestBoundaryRebuild(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, tc := range []struct {
		acc, threads int
		perShot      bool
		pmlBothEnds  bool
	}{{2, 1, false, false}, {4, 2, true, false}, {8, 1, true, true}, {8, 2, false, true}, {6, 1, false, false}} {
		parallel.SetThreads(tc.threads)
		rng := rand.New(rand.NewPCG(uint64(tc.acc), 11))
		var p *Problem[float64]
		if tc.pmlBothEnds {
			p = testProblem(tc.acc, 2, 50, 5, tc.perShot, rng)
		} else {
			p = boundaryProblem(tc.acc, 50, tc.perShot, rng)
		}
		p.StoreInterval = 1 + tc.acc%3
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		const nsteps = 300
		cells := p.NShots * p.NX
		nsrc, nrec := p.NShots*p.NSources, p.NShots*p.NReceivers
		src := randomVec(nsteps*nsrc, rng)
		rec := randomVec(nsteps*nrec, rng)
		nstore := (nsteps + p.StoreInterval - 1) / p.StoreInterval
		store := make([]float64, nstore*cells)
		b := &Boundary[float64]{Strips: make([]float64, (nsteps+2)*p.NShots*p.BoundaryCells())}
		x := randomState(p, rng)
		// The forward wavefield of every step, steps −1, 0, 1, ...
		history := [][]float64{x.up, x.u}
		g := fieldsFrom(x)
		for step := 0; step < nsteps; step++ {
			Forward(p, g, &Chunk[float64]{Step0: step, NSteps: 1, SourceAmp: src[step*nsrc : (step+1)*nsrc], ReceiverAmp: make([]float64, nrec)})
			swapIfOdd(1, g)
			history = append(history, clone(g.U[0]))
		}
		f := fieldsFrom(x)
		for step := 0; step < nsteps; {
			count := min(1+step%17, nsteps-step)
			c := &Chunk[float64]{Step0: step, NSteps: count, Store: store, Boundary: b,
				SourceAmp: src[step*nsrc : (step+count)*nsrc], ReceiverAmp: make([]float64, count*nrec)}
			if err := p.ValidateChunk(f, c, false); err != nil {
				t.Fatal(err)
			}
			Forward(p, f, c)
			swapIfOdd(count, f)
			step += count
		}
		scale := maxAbs(f.U[0])

		adjoint := func() *Fields[float64] { return adjointFields(p, randomState(p, rand.New(rand.NewPCG(9, 9)))) }
		full, rebuilt := adjoint(), adjoint()
		gFull, gRebuilt := make([]float64, cells), make([]float64, cells)
		b.U = [2][]float64{clone(f.U[0]), clone(f.U[1])}
		b.W = make([]float64, cells)
		var worst float64
		for end := nsteps; end > 0; {
			count := min(1+end%13, end)
			step := end - count
			chunk := func(g []float64, boundary *Boundary[float64], store []float64) *Chunk[float64] {
				return &Chunk[float64]{Step0: step, NSteps: count, Store: store, GradC: g, Boundary: boundary,
					SourceAmp: make([]float64, count*nsrc), ReceiverAmp: rec[step*nrec : end*nrec]}
			}
			Backward(p, full, chunk(gFull, nil, store))
			b.SourceAmp = src[step*nsrc : end*nsrc]
			c := chunk(gRebuilt, b, nil)
			if err := p.ValidateChunk(rebuilt, c, true); err != nil {
				t.Fatal(err)
			}
			Backward(p, rebuilt, c)
			swapIfOdd(count, full, rebuilt)
			if count%2 == 1 {
				b.U[0], b.U[1] = b.U[1], b.U[0]
			}
			end = step
			for k, want := range [][]float64{history[end+1], history[end]} {
				for i := range want {
					worst = math.Max(worst, math.Abs(b.U[k][i]-want[i])/scale)
				}
			}
			for k, v := range current(full, 0).vecs() {
				if !equal(v, current(rebuilt, 0).vecs()[k]) {
					t.Fatalf("accuracy %d: the adjoint state %d differs at step %d", tc.acc, k, end)
				}
			}
		}
		if worst > 1e-12 {
			t.Errorf("accuracy %d: rebuilt wavefield off by %.2e of its largest value", tc.acc, worst)
		}
		if d := relDiff(gRebuilt, gFull); d > 1e-12 || maxAbs(gFull) == 0 {
			t.Errorf("accuracy %d: model gradient off by %.2e relative to the full store's", tc.acc, d)
		}
	}
}

// TestBoundaryCells checks the strip size: with a PML of width w at both
// ends (and ∂b zero outside it), the strips cover w + h cells inside the
// halo at each end.
func TestBoundaryCells(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := testProblem(4, 1, 60, 6, false, rng)
	h := p.Halo()
	band := 6 + h // PML cells, then h cells whose stencil reaches into it
	if got, want := p.BoundaryCells(), 2*band; got != want {
		t.Errorf("boundary cells %d, want %d", got, want)
	}
	// A non-zero ∂b just inside the PML widens the strips by that cell only.
	p.DBX[h+band] = 0.1
	if got, want := p.BoundaryCells(), 2*band+1; got != want {
		t.Errorf("boundary cells with ∂b beyond the PML: %d, want %d", got, want)
	}
	// A PML (of width 5) at one end only: the strips hold that end.
	q := boundaryProblem(4, 60, false, rng)
	if got, want := q.BoundaryCells(), 5+h; got != want {
		t.Errorf("boundary cells with a PML at one end: %d, want %d", got, want)
	}
	// Without any PML the whole grid is rebuilt and nothing is stored.
	for i := range p.AX {
		p.AX[i], p.BX[i], p.DBX[i] = 0, 0, 0
	}
	if got := p.BoundaryCells(); got != 0 {
		t.Errorf("boundary cells without PML: %d, want 0", got)
	}
	// A PML everywhere leaves nothing to rebuild: every cell is stored.
	for i := range p.AX {
		p.AX[i] = 0.5
	}
	if got, want := p.BoundaryCells(), p.NX-2*h; got != want {
		t.Errorf("boundary cells with PML everywhere: %d, want %d", got, want)
	}
}

func TestBoundaryValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := testProblem(4, 2, 30, 3, false, rng)
	cells := p.NShots * p.NX
	f := fieldsFrom(randomState(p, rng))
	strips := make([]float64, 5*p.NShots*p.BoundaryCells())
	chunk := func(steps int, b *Boundary[float64], store []float64) *Chunk[float64] {
		return &Chunk[float64]{
			NSteps: steps, Boundary: b, Store: store, GradC: make([]float64, cells),
			SourceAmp: make([]float64, steps*p.NShots*p.NSources), ReceiverAmp: make([]float64, steps*p.NShots*p.NReceivers),
		}
	}
	good := func() *Boundary[float64] {
		return &Boundary[float64]{
			Strips: strips, SourceAmp: make([]float64, 3*p.NShots*p.NSources),
			U: [2][]float64{make([]float64, cells), make([]float64, cells)}, W: make([]float64, cells),
		}
	}
	if err := p.ValidateChunk(f, chunk(3, good(), nil), true); err != nil {
		t.Fatal(err)
	}
	if err := p.ValidateChunk(f, chunk(3, good(), nil), false); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Chunk[float64]{
		"too few strips":   chunk(4, good(), nil),
		"part of a strip":  chunk(3, func() *Boundary[float64] { b := good(); b.Strips = strips[1:]; return b }(), nil),
		"store and strips": chunk(3, good(), make([]float64, 3*cells)),
		"short u":          chunk(3, func() *Boundary[float64] { b := good(); b.U[1] = b.U[1][1:]; return b }(), nil),
		"no w":             chunk(3, func() *Boundary[float64] { b := good(); b.W = nil; return b }(), nil),
		"short sources":    chunk(3, func() *Boundary[float64] { b := good(); b.SourceAmp = nil; return b }(), nil),
	} {
		if err := p.ValidateChunk(f, c, true); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
