package maxwell

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// testProblem builds a small padded grid with a CPML of width pml on every
// edge, random coefficients, and a few sources and receivers per shot.
func testProblem(stencil, shots, ny, nx, pml int, perShot bool, rng *rand.Rand) *Problem[float64] {
	h := stencil / 2
	models := 1
	if perShot {
		models = shots
	}
	p := &Problem[float64]{
		NShots: shots, NY: ny, NX: nx, Stencil: stencil,
		RDY: 1 / 1.5, RDX: 1 / 2.0,
		CA: make([]float64, models*ny*nx), CB: make([]float64, models*ny*nx), CQ: make([]float64, models*ny*nx),
		ModelPerShot:  perShot,
		StoreInterval: 1,
		NSources:      2, NReceivers: 3,
	}
	for i := range p.CA {
		p.CA[i] = 0.8 + 0.2*rng.Float64()
		p.CB[i] = 0.2 + 0.2*rng.Float64()
		p.CQ[i] = 0.2 + 0.2*rng.Float64()
	}
	profile := func(n int, shift float64) (a, b []float64) {
		a, b = make([]float64, n), make([]float64, n)
		for i := h; i < n-h; i++ {
			x := float64(i) + shift
			d := max(float64(h+pml)-x, x-float64(n-1-h-pml))
			if d <= 0 {
				continue
			}
			frac := math.Min(d/float64(pml), 1)
			sigma, alpha := 3*frac*frac, 0.5*(1-frac)
			b[i] = math.Exp(-(sigma + alpha) * 0.1)
			a[i] = sigma / (sigma + alpha) * (b[i] - 1)
		}
		return
	}
	p.AY, p.BY = profile(ny, 0)
	p.AYH, p.BYH = profile(ny, 0.5)
	p.AX, p.BX = profile(nx, 0)
	p.AXH, p.BXH = profile(nx, 0.5)
	pick := func(n int) []int64 {
		idx := make([]int64, shots*n)
		for s := 0; s < shots; s++ {
			perm := rng.Perm((ny - 2*h) * (nx - 2*h))
			for r := 0; r < n; r++ {
				y, x := h+perm[r]/(nx-2*h), h+perm[r]%(nx-2*h)
				idx[s*n+r] = int64(y*nx + x)
			}
		}
		return idx
	}
	p.SourceIndex, p.ReceiverIndex = pick(p.NSources), pick(p.NReceivers)
	p.SourceIndex[1] = -1 // an ignored source
	return p
}

// state is every field of a propagation, plus a second buffer for each
// paired field.
type state struct{ f Fields[float64] }

func newState(p *Problem[float64], rng *rand.Rand) *state {
	n := p.NShots * p.cells()
	h := p.Halo()
	vec := func(mask func(y, x int) bool) []float64 {
		v := make([]float64, n)
		if rng == nil {
			return v
		}
		for i := range v {
			y, x := (i%p.cells())/p.NX, i%p.NX
			if y >= h && y < p.NY-h && x >= h && x < p.NX-h && mask(y, x) {
				v[i] = rng.NormFloat64()
			}
		}
		return v
	}
	all := func(int, int) bool { return true }
	liveY := func(a, b []float64) func(y, x int) bool { return func(y, _ int) bool { return a[y] != 0 || b[y] != 0 } }
	liveX := func(a, b []float64) func(y, x int) bool { return func(_, x int) bool { return a[x] != 0 || b[x] != 0 } }
	pair := func(m func(y, x int) bool) [2][]float64 { return [2][]float64{vec(m), make([]float64, n)} }
	return &state{Fields[float64]{
		EY: pair(all), HX: vec(all), HZ: vec(all),
		MEyX: pair(liveX(p.AXH, p.BXH)), MEyZ: pair(liveY(p.AYH, p.BYH)),
		MHxZ: pair(liveY(p.AY, p.BY)), MHzX: pair(liveX(p.AX, p.BX)),
	}}
}

// current lists the current state's buffers after k backward steps.
func (s *state) current(k int) [][]float64 {
	c := k % 2
	f := &s.f
	return [][]float64{f.EY[c], f.HX, f.HZ, f.MEyX[c], f.MEyZ[c], f.MHxZ[c], f.MHzX[c]}
}

func randomVec(n int, rng *rand.Rand) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func dots(a, b [][]float64) float64 {
	var s float64
	for i := range a {
		s += dot(a[i], b[i])
	}
	return s
}

func clone(v [][]float64) [][]float64 {
	out := make([][]float64, len(v))
	for i := range v {
		out[i] = append([]float64(nil), v[i]...)
	}
	return out
}

// TestAdjointDotProduct checks ⟨F x, y⟩ = ⟨x, Fᵀ y⟩ for the map from the
// initial state and source terms to the final state and receiver data, for
// every stencil, with threads sharing the rows of each shot or taking
// whole shots.
func TestAdjointDotProduct(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	for _, threads := range []int{1, 3} {
		parallel.SetThreads(threads)
		for _, stencil := range []int{2, 4, 6, 8} {
			rng := rand.New(rand.NewPCG(uint64(stencil), 7))
			p := testProblem(stencil, 2, 17+stencil, 19+stencil, 3, stencil == 4, rng)
			nt := 9
			x := newState(p, rng)
			x0 := clone(x.current(0))
			src := randomVec(nt*p.NShots*p.NSources, rng)
			rec := make([]float64, nt*p.NShots*p.NReceivers)
			Forward(p, &x.f, &Chunk[float64]{NSteps: nt, SourceAmp: append([]float64(nil), src...), ReceiverAmp: rec})

			y := newState(p, rng)
			y0 := clone(y.current(0))
			gRec := randomVec(len(rec), rng)
			gSrc := make([]float64, len(src))
			c := &Chunk[float64]{NSteps: nt, SourceAmp: gSrc, ReceiverAmp: gRec}
			if err := p.ValidateChunk(&y.f, c, true); err != nil {
				t.Fatal(err)
			}
			Backward(p, &y.f, c)

			for k := 0; k < nt; k++ {
				src[k*p.NShots*p.NSources+1] = 0 // shot 0's ignored source
			}
			lhs := dots(x.current(0), y0) + dot(rec, gRec)
			rhs := dots(x0, y.current(nt)) + dot(src, gSrc)
			if rel := math.Abs(lhs-rhs) / math.Abs(lhs); rel > 1e-13 {
				t.Errorf("stencil %d, %d threads: <Fx,y> = %.15g, <x,F'y> = %.15g (relative difference %.2e)", stencil, threads, lhs, rhs, rel)
			}
		}
	}
}

// TestCoefficientGradients checks the gradients with respect to ca, cb and
// cq against central differences of ⟨F(c) x, y⟩, with a store interval of
// one and of two (which samples every other step and scales by two, so it
// is compared with the exact gradient only loosely).
func TestCoefficientGradients(t *testing.T) {
	for _, stencil := range []int{2, 6} {
		rng := rand.New(rand.NewPCG(uint64(stencil), 11))
		p := testProblem(stencil, 2, 15+stencil, 16+stencil, 2, stencil == 6, rng)
		nt := 8
		x := newState(p, rng)
		x0 := clone(x.current(0))
		src := randomVec(nt*p.NShots*p.NSources, rng)
		y := newState(p, rng)
		y0 := clone(y.current(0))
		gRec := randomVec(nt*p.NShots*p.NReceivers, rng)

		objective := func() float64 {
			s := newState(p, nil)
			for i, b := range s.current(0) {
				copy(b, x0[i])
			}
			rec := make([]float64, len(gRec))
			Forward(p, &s.f, &Chunk[float64]{NSteps: nt, SourceAmp: append([]float64(nil), src...), ReceiverAmp: rec})
			return dots(s.current(0), y0) + dot(rec, gRec)
		}

		n := p.NShots * p.cells()
		store := func() []float64 { return make([]float64, nt*n) }
		c := &Chunk[float64]{NSteps: nt, SourceAmp: append([]float64(nil), src...), ReceiverAmp: make([]float64, len(gRec)),
			StoreEy: store(), StoreCurl: store(), StoreDZ: store(), StoreDX: store()}
		Forward(p, &x.f, c)
		c.SourceAmp = make([]float64, len(src))
		c.ReceiverAmp = append([]float64(nil), gRec...)
		c.GradCA, c.GradCB, c.GradCQ = make([]float64, n), make([]float64, n), make([]float64, n)
		Backward(p, &y.f, c)

		for _, tc := range []struct {
			name  string
			coef  []float64
			grads []float64
		}{{"ca", p.CA, c.GradCA}, {"cb", p.CB, c.GradCB}, {"cq", p.CQ, c.GradCQ}} {
			// The gradient of one coefficient grid: summed over shots
			// unless every shot has its own.
			g := tc.grads
			if !p.ModelPerShot {
				g = make([]float64, p.cells())
				for s := 0; s < p.NShots; s++ {
					for i := range g {
						g[i] += tc.grads[s*p.cells()+i]
					}
				}
			}
			dir := randomVec(len(tc.coef), rng)
			const eps = 1e-6
			orig := append([]float64(nil), tc.coef...)
			for i := range tc.coef {
				tc.coef[i] = orig[i] + eps*dir[i]
			}
			fp := objective()
			for i := range tc.coef {
				tc.coef[i] = orig[i] - eps*dir[i]
			}
			fm := objective()
			copy(tc.coef, orig)
			fd := (fp - fm) / (2 * eps)
			an := dot(dir, g)
			if rel := math.Abs(fd-an) / math.Abs(fd); rel > 1e-7 {
				t.Errorf("stencil %d, %s: finite difference %.12g, adjoint %.12g (relative difference %.2e)", stencil, tc.name, fd, an, rel)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := testProblem(4, 1, 12, 12, 2, false, rng)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Problem[float64]){
		"stencil":  func(p *Problem[float64]) { p.Stencil = 3 },
		"small":    func(p *Problem[float64]) { p.NY = 4 },
		"source":   func(p *Problem[float64]) { p.SourceIndex[0] = 0 },
		"receiver": func(p *Problem[float64]) { p.ReceiverIndex[0] = 12 * 12 },
		"cq":       func(p *Problem[float64]) { p.CQ = p.CQ[1:] },
		"interval": func(p *Problem[float64]) { p.StoreInterval = 0 },
	} {
		q := *p
		q.SourceIndex = append([]int64(nil), p.SourceIndex...)
		q.ReceiverIndex = append([]int64(nil), p.ReceiverIndex...)
		edit(&q)
		if q.Validate() == nil {
			t.Errorf("%s: invalid problem accepted", name)
		}
	}
}

// TestChunkedStore runs forward and backward in chunks whose stores each
// hold only the chunk's window of snapshots (StoreFirst), as a caller
// staging the history elsewhere does, and checks that the gradients equal
// those of one call over the whole history.
func TestChunkedStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 13))
	p := testProblem(4, 2, 18, 20, 3, false, rng)
	p.StoreInterval = 2
	nt, n := 16, p.NShots*p.cells()
	x0 := clone(newState(p, rng).current(0))
	y0 := clone(newState(p, rng).current(0))
	src := randomVec(nt*p.NShots*p.NSources, rng)
	gRec := randomVec(nt*p.NShots*p.NReceivers, rng)
	stateFrom := func(v [][]float64) *state {
		s := newState(p, nil)
		for i, b := range s.current(0) {
			copy(b, v[i])
		}
		return s
	}
	// run propagates over the chunks and returns the three gradients.
	run := func(counts []int, windowed bool) [][]float64 {
		x, y := stateFrom(x0), stateFrom(y0)
		grads := [][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
		var chunks []*Chunk[float64]
		var whole [][]float64
		step := 0
		for _, count := range counts {
			first, last := (step+p.StoreInterval-1)/p.StoreInterval, (step+count-1)/p.StoreInterval
			c := &Chunk[float64]{Step0: step, NSteps: count, StoreFirst: first,
				SourceAmp:   append([]float64(nil), src[step*p.NShots*p.NSources:(step+count)*p.NShots*p.NSources]...),
				ReceiverAmp: make([]float64, count*p.NShots*p.NReceivers)}
			if !windowed {
				c.StoreFirst = 0
				if whole == nil {
					whole = [][]float64{make([]float64, nt/2*n), make([]float64, nt/2*n), make([]float64, nt/2*n), make([]float64, nt/2*n)}
				}
				c.StoreEy, c.StoreCurl, c.StoreDZ, c.StoreDX = whole[0], whole[1], whole[2], whole[3]
			} else {
				k := (last - first + 1) * n
				c.StoreEy, c.StoreCurl, c.StoreDZ, c.StoreDX = make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
			}
			if err := p.ValidateChunk(&x.f, c, false); err != nil {
				t.Fatal(err)
			}
			Forward(p, &x.f, c)
			chunks = append(chunks, c)
			step += count
		}
		for i := len(chunks) - 1; i >= 0; i-- {
			c := chunks[i]
			step := c.Step0
			c.SourceAmp = make([]float64, len(c.SourceAmp))
			c.ReceiverAmp = append([]float64(nil), gRec[step*p.NShots*p.NReceivers:(step+c.NSteps)*p.NShots*p.NReceivers]...)
			c.GradCA, c.GradCB, c.GradCQ = grads[0], grads[1], grads[2]
			if err := p.ValidateChunk(&y.f, c, true); err != nil {
				t.Fatal(err)
			}
			Backward(p, &y.f, c)
			if c.NSteps%2 == 1 {
				f := &y.f
				for _, pr := range []*[2][]float64{&f.EY, &f.MEyX, &f.MEyZ, &f.MHxZ, &f.MHzX} {
					pr[0], pr[1] = pr[1], pr[0]
				}
			}
		}
		return grads
	}
	want := run([]int{nt}, false)
	got := run([]int{5, 7, 4}, true)
	for k, name := range []string{"ca", "cb", "cq"} {
		for i := range want[k] {
			if got[k][i] != want[k][i] {
				t.Fatalf("gradient of %s differs at %d: %g, want %g", name, i, got[k][i], want[k][i])
			}
		}
	}

	// A window that starts after the chunk's first snapshot is refused.
	bad := &Chunk[float64]{Step0: 4, NSteps: 2, StoreEy: make([]float64, n), StoreFirst: 3,
		SourceAmp: src[:2*p.NShots*p.NSources], ReceiverAmp: make([]float64, 2*p.NShots*p.NReceivers)}
	if err := p.ValidateChunk(&newState(p, nil).f, bad, false); err == nil || !strings.Contains(err.Error(), "starts at snapshot") {
		t.Errorf("a store starting after the chunk's first snapshot: got %v", err)
	}
}
