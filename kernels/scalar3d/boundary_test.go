package scalar3d

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// boundaryProblem is testProblem with a reflecting low-z face (no PML on
// it), optionally one model per shot.
func boundaryProblem(acc, nz, ny, nx int, perShot bool, rng *rand.Rand) *Problem[float64] {
	p := testProblem(acc, 2, nz, ny, nx, 3, rng)
	for z := 0; z < nz/2; z++ {
		p.AZ[z], p.BZ[z], p.DBZ[z] = 0, 0, 0
	}
	if perShot {
		p.ModelPerShot = true
		p.C = append(p.C, p.C...)
		for i := len(p.C) / 2; i < len(p.C); i++ {
			p.C[i] *= 0.9
		}
	}
	return p
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func relDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d / math.Max(maxAbs(b), 1e-300)
}

// TestBoundaryRebuild runs steps forward recording strips, in chunks, then
// backwards in other chunks: the rebuilt wavefield must match the
// forward's at every chunk edge, the model gradient the one from a full
// store, and the adjoint itself must not change at all.
func TestBoundaryRebuild(t *testing.T) {
	defer parallel.SetThreads(0)
	for _, tc := range []struct {
		acc, threads int
		perShot      bool
	}{{2, 1, false}, {4, 2, true}, {8, 1, true}, {8, 2, false}} {
		parallel.SetThreads(tc.threads)
		rng := rand.New(rand.NewPCG(uint64(tc.acc), 11))
		p := boundaryProblem(tc.acc, 24, 25, 27, tc.perShot, rng)
		p.StoreInterval = 1 + tc.acc%3 // 1 or 2
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		l := newBoundaryLayout(p)
		if l.z1 <= l.z0 || l.y1 <= l.y0 || l.x1 <= l.x0 {
			t.Fatalf("accuracy %d: empty box %+v", tc.acc, l)
		}
		const nsteps = 60
		cells := p.NShots * p.Cells()
		src := randomVec(nsteps*p.NShots*p.NSources, rng)
		rec := randomVec(nsteps*p.NShots*p.NReceivers, rng)
		nstore := (nsteps + p.StoreInterval - 1) / p.StoreInterval
		store := make([]float64, nstore*cells)
		b := &Boundary[float64]{Strips: make([]float64, (nsteps+2)*p.NShots*p.BoundaryCells())}
		x := randomState(p, rng)
		// The forward wavefield of every step, steps −1, 0, 1, ...
		history := [][]float64{x.up, x.u}
		g := fieldsFrom(x)
		for step := 0; step < nsteps; step++ {
			Forward(p, g, &Chunk[float64]{
				Step0: step, NSteps: 1, SourceAmp: src[step*p.NShots*p.NSources : (step+1)*p.NShots*p.NSources],
				ReceiverAmp: make([]float64, p.NShots*p.NReceivers),
			})
			swapPairs(g)
			history = append(history, append([]float64(nil), g.U[0]...))
		}
		f := fieldsFrom(x)
		for step := 0; step < nsteps; {
			count := min(1+step%7, nsteps-step)
			c := &Chunk[float64]{
				Step0: step, NSteps: count, Store: store, Boundary: b,
				SourceAmp:   src[step*p.NShots*p.NSources : (step+count)*p.NShots*p.NSources],
				ReceiverAmp: make([]float64, count*p.NShots*p.NReceivers),
			}
			if err := p.ValidateChunk(f, c, false); err != nil {
				t.Fatal(err)
			}
			Forward(p, f, c)
			if count%2 == 1 {
				swapPairs(f)
			}
			step += count
		}
		scale := maxAbs(f.U[0])

		adjoint := func() *Fields[float64] { return fieldsFrom(randomState(p, rand.New(rand.NewPCG(9, 9)))) }
		full, rebuilt := adjoint(), adjoint()
		gFull, gRebuilt := make([]float64, cells), make([]float64, cells)
		b.U = [2][]float64{append([]float64(nil), f.U[0]...), append([]float64(nil), f.U[1]...)}
		b.W = make([]float64, cells)
		var worst float64
		for end := nsteps; end > 0; {
			count := min(1+end%5, end)
			step := end - count
			chunk := func(g []float64, boundary *Boundary[float64], store []float64) *Chunk[float64] {
				return &Chunk[float64]{
					Step0: step, NSteps: count, Store: store, GradC: g, Boundary: boundary,
					SourceAmp:   make([]float64, count*p.NShots*p.NSources),
					ReceiverAmp: rec[step*p.NShots*p.NReceivers : end*p.NShots*p.NReceivers],
				}
			}
			Backward(p, full, chunk(gFull, nil, store))
			b.SourceAmp = src[step*p.NShots*p.NSources : end*p.NShots*p.NSources]
			c := chunk(gRebuilt, b, nil)
			if err := p.ValidateChunk(rebuilt, c, true); err != nil {
				t.Fatal(err)
			}
			Backward(p, rebuilt, c)
			if count%2 == 1 {
				swapPairs(full)
				swapPairs(rebuilt)
				b.U[0], b.U[1] = b.U[1], b.U[0]
			}
			end = step
			for k, want := range [][]float64{history[end+1], history[end]} {
				for i := range want {
					worst = math.Max(worst, math.Abs(b.U[k][i]-want[i])/scale)
				}
			}
			for i := range full.U[0] {
				if full.U[0][i] != rebuilt.U[0][i] || full.U[1][i] != rebuilt.U[1][i] || full.PsiZ[0][i] != rebuilt.PsiZ[0][i] {
					t.Fatalf("accuracy %d: the adjoint state differs at step %d, cell %d", tc.acc, end, i)
				}
			}
		}
		if worst > 1e-12 {
			t.Errorf("accuracy %d: rebuilt wavefield off by %.2e of its largest value", tc.acc, worst)
		}
		if d := relDiff(gRebuilt, gFull); d > 1e-12 {
			t.Errorf("accuracy %d: model gradient off by %.2e relative to the full store's", tc.acc, d)
		}
	}
}

// TestBoundaryLargeGrid covers the schedule that shares each step's planes
// among threads (3 shots on 2 threads: the third shot's planes are split).
func TestBoundaryLargeGrid(t *testing.T) {
	defer parallel.SetThreads(0)
	parallel.SetThreads(2)
	rng := rand.New(rand.NewPCG(5, 6))
	p := testProblem(8, 3, 40, 41, 42, 3, rng)
	const nsteps = 4
	cells := p.NShots * p.Cells()
	src := randomVec(nsteps*p.NShots*p.NSources, rng)
	rec := randomVec(nsteps*p.NShots*p.NReceivers, rng)
	store := make([]float64, nsteps*cells)
	b := &Boundary[float64]{Strips: make([]float64, (nsteps+2)*p.NShots*p.BoundaryCells())}
	x := randomState(p, rng)
	f := fieldsFrom(x)
	Forward(p, f, &Chunk[float64]{NSteps: nsteps, SourceAmp: src, ReceiverAmp: make([]float64, len(rec)), Store: store, Boundary: b})
	b.U, b.W, b.SourceAmp = [2][]float64{f.U[0], f.U[1]}, make([]float64, cells), src
	zero := func() *Fields[float64] {
		z := func() []float64 { return make([]float64, cells) }
		return fieldsFrom(state{u: z(), up: z(), psi: [3][]float64{z(), z(), z()}, zeta: [3][]float64{z(), z(), z()}})
	}
	gFull, gRebuilt := make([]float64, cells), make([]float64, cells)
	Backward(p, zero(), &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: rec, Store: store, GradC: gFull})
	Backward(p, zero(), &Chunk[float64]{NSteps: nsteps, SourceAmp: make([]float64, len(src)), ReceiverAmp: rec, GradC: gRebuilt, Boundary: b})
	if d := relDiff(gRebuilt, gFull); d > 1e-12 {
		t.Errorf("model gradient off by %.2e relative to the full store's", d)
	}
	for i := range x.u {
		if math.Abs(b.U[0][i]-x.u[i]) > 1e-12 || math.Abs(b.U[1][i]-x.up[i]) > 1e-12 {
			t.Fatalf("rebuilt initial state differs at %d", i)
		}
	}
}

// TestBoundaryCells checks the strip size: on a grid with a PML of width
// w on every face (and ∂b zero outside it), the strips cover w + h cells
// inside the halo on each side; and the strip order against rowStart.
func TestBoundaryCells(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := testProblem(4, 1, 30, 32, 34, 4, rng)
	h := p.Halo()
	band := 4 + h
	inner := (p.NZ - 2*h) * (p.NY - 2*h) * (p.NX - 2*h)
	box := (p.NZ - 2*h - 2*band) * (p.NY - 2*h - 2*band) * (p.NX - 2*h - 2*band)
	if got, want := p.BoundaryCells(), inner-box; got != want {
		t.Errorf("boundary cells %d, want %d", got, want)
	}
	// rowStart agrees with the order saveStrip writes.
	l := newBoundaryLayout(p)
	k := 0
	for z := h; z < p.NZ-h; z++ {
		for y := h; y < p.NY-h; y++ {
			if got := l.rowStart(z, y); got != k {
				t.Fatalf("row (%d, %d) starts at %d, want %d", z, y, got, k)
			}
			a0, a1, b0, b1 := l.runs(z, y)
			k += a1 - a0 + b1 - b0
		}
	}
	if k != l.cells() {
		t.Fatalf("strip has %d cells, want %d", k, l.cells())
	}
	// A non-zero ∂b just inside the PML widens the strips by that plane.
	p.DBZ[h+band] = 0.1
	if got, want := p.BoundaryCells(), inner-box+(p.NY-2*h-2*band)*(p.NX-2*h-2*band); got != want {
		t.Errorf("boundary cells with ∂b beyond the PML: %d, want %d", got, want)
	}
	// Without any PML the whole grid is rebuilt and nothing is stored.
	for _, v := range [][]float64{p.AZ, p.BZ, p.DBZ, p.AY, p.BY, p.DBY, p.AX, p.BX, p.DBX} {
		clear(v)
	}
	if got := p.BoundaryCells(); got != 0 {
		t.Errorf("boundary cells without PML: %d, want 0", got)
	}
}

func TestBoundaryValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := testProblem(4, 2, 14, 15, 16, 2, rng)
	cells := p.NShots * p.Cells()
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
