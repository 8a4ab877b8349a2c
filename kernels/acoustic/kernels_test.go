package acoustic

import (
	"math"
	"math/rand"
	"testing"
)

// TestRowKernelsMatchReference runs Forward and Backward, with the vector
// kernels and with the plain-Go ones, against the per-cell formula on
// random problems, in 1D, 2D and 3D, for every accuracy. The PML is wide
// enough that the vector kernels cover CPML segments along x too.
func TestRowKernelsMatchReference(t *testing.T) {
	for _, generic := range []bool{false, true} {
		setGeneric(generic)
		for ndim := 1; ndim <= 3; ndim++ {
			for _, acc := range []int{2, 4, 6, 8} {
				rng := rand.New(rand.NewSource(int64(100*ndim + acc)))
				p := testProblemWith(ndim, acc, 2, []int{6, 7, 13}, 9, rng)
				p.StoreInterval = 2
				nt := 5
				x := randomState(p, rng)
				n := p.NShots * p.Cells()
				chunk := func() *Chunk[float64] {
					c := &Chunk[float64]{NSteps: nt, StoreK: make([]float64, 3*n), GradK: make([]float64, n)}
					for _, d := range p.Axes() {
						c.StoreB[d], c.GradB[d] = make([]float64, 3*n), make([]float64, n)
					}
					for k := 0; k <= ndim; k++ {
						c.SourceAmp[k] = randomSlice(nt*p.NShots*p.NSources[k], rand.New(rand.NewSource(int64(k))))
						c.ReceiverAmp[k] = make([]float64, nt*p.NShots*p.NReceivers[k])
					}
					return c
				}
				got, want := clone(x), clone(x)
				cg, cw := chunk(), chunk()
				Forward(p, got, cg)
				referenceForward(p, want, cw)
				name := func(what string) string {
					return map[bool]string{false: "vector", true: "generic"}[generic] + " " + what
				}
				compare(t, name("forward state"), ndim, acc, flat(got), flat(want))
				compare(t, name("forward store"), ndim, acc, storeOf(cg), storeOf(cw))
				compare(t, name("forward receivers"), ndim, acc, cg.ReceiverAmp[:ndim+1], cw.ReceiverAmp[:ndim+1])
				// Backward from a random adjoint state, receiver gradients
				// and the snapshots the forward stored.
				y := randomState(p, rng)
				for k := 0; k <= ndim; k++ {
					cg.ReceiverAmp[k] = randomSlice(len(cg.ReceiverAmp[k]), rng)
					cw.ReceiverAmp[k] = append([]float64(nil), cg.ReceiverAmp[k]...)
				}
				got, want = clone(y), clone(y)
				Backward(p, got, cg)
				referenceBackward(p, want, cw)
				compare(t, name("backward state"), ndim, acc, flat(got), flat(want))
				compare(t, name("backward sources"), ndim, acc, cg.SourceAmp[:ndim+1], cw.SourceAmp[:ndim+1])
				compare(t, name("backward gradients"), ndim, acc, gradOf(cg), gradOf(cw))
			}
		}
	}
	setGeneric(false)
}

// TestVectorKernelsFloat32 runs Forward and Backward in float32 with the
// vector kernels and with the plain-Go ones: the same numbers up to
// rounding.
func TestVectorKernelsFloat32(t *testing.T) {
	if !SIMD {
		t.Skip("no vector kernels in this build")
	}
	for ndim := 1; ndim <= 3; ndim++ {
		for _, acc := range []int{2, 4, 6, 8} {
			rng := rand.New(rand.NewSource(int64(7*ndim + acc)))
			p64 := testProblemWith(ndim, acc, 2, []int{5, 6, 21}, 10, rng)
			p := toFloat32(p64)
			nt := 6
			n := p.NShots * p.Cells()
			x := to32(flat(randomState(p64, rng)))
			run := func(generic bool) ([][]float32, [][]float32) {
				setGeneric(generic)
				defer setGeneric(false)
				f := fields32(p, x)
				c := &Chunk[float32]{NSteps: nt, StoreK: make([]float32, nt*n), GradK: make([]float32, n)}
				for _, d := range p.Axes() {
					c.StoreB[d], c.GradB[d] = make([]float32, nt*n), make([]float32, n)
				}
				for k := 0; k <= ndim; k++ {
					c.SourceAmp[k] = to32([][]float64{randomSlice(nt*p.NShots*p.NSources[k], rand.New(rand.NewSource(int64(k))))})[0]
					c.ReceiverAmp[k] = make([]float32, nt*p.NShots*p.NReceivers[k])
				}
				Forward(p, f, c)
				out := flat32(f)
				for k := 0; k <= ndim; k++ {
					for i := range c.ReceiverAmp[k] {
						c.ReceiverAmp[k][i] = float32(i%7) - 3
					}
				}
				b := fields32(p, x)
				Backward(p, b, c)
				return out, append(flat32(b), gradOf32(c)...)
			}
			fv, bv := run(false)
			fg, bg := run(true)
			compare32(t, "forward", ndim, acc, fv, fg)
			compare32(t, "backward", ndim, acc, bv, bg)
		}
	}
}

func toFloat32(p *Problem[float64]) *Problem[float32] {
	q := &Problem[float32]{NShots: p.NShots, NDim: p.NDim, Accuracy: p.Accuracy, N: p.N, RD: p.RD, DT: p.DT,
		KPerShot: p.KPerShot, BPerShot: p.BPerShot, SourceIndex: p.SourceIndex, ReceiverIndex: p.ReceiverIndex,
		NSources: p.NSources, NReceivers: p.NReceivers, StoreInterval: p.StoreInterval}
	q.K = to32([][]float64{p.K})[0]
	for _, d := range p.Axes() {
		q.B[d] = to32([][]float64{p.B[d]})[0]
		q.A[d], q.Bp[d], q.AH[d], q.BH[d] = to32([][]float64{p.A[d]})[0], to32([][]float64{p.Bp[d]})[0], to32([][]float64{p.AH[d]})[0], to32([][]float64{p.BH[d]})[0]
	}
	return q
}

func to32(x [][]float64) [][]float32 {
	out := make([][]float32, len(x))
	for a := range x {
		out[a] = make([]float32, len(x[a]))
		for i, v := range x[a] {
			out[a][i] = float32(v)
		}
	}
	return out
}

// fields32 is a copy of flat state x (the order of flat) as Fields.
func fields32(p *Problem[float32], x [][]float32) *Fields[float32] {
	cp := func(a []float32) []float32 { return append([]float32(nil), a...) }
	f := &Fields[float32]{P: cp(x[0])}
	k := 1
	for _, d := range p.Axes() {
		f.V[d], f.Phi[d], f.Psi[d] = cp(x[k]), cp(x[k+1]), cp(x[k+2])
		k += 3
	}
	return f
}

func flat32(f *Fields[float32]) [][]float32 {
	out := [][]float32{f.P}
	for d := 0; d < 3; d++ {
		if f.V[d] != nil {
			out = append(out, f.V[d], f.Phi[d], f.Psi[d])
		}
	}
	return out
}

func gradOf32(c *Chunk[float32]) [][]float32 {
	out := [][]float32{c.GradK}
	for _, s := range c.GradB {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func compare32(t *testing.T, what string, ndim, acc int, got, want [][]float32) {
	t.Helper()
	for a := range want {
		scale := 0.0
		for _, w := range want[a] {
			scale = math.Max(scale, math.Abs(float64(w)))
		}
		for i := range want[a] {
			if math.Abs(float64(got[a][i]-want[a][i])) > 1e-4*scale {
				t.Errorf("%dD accuracy %d %s: array %d cell %d: %g, want %g", ndim, acc, what, a, i, got[a][i], want[a][i])
				return
			}
		}
		if scale == 0 {
			t.Errorf("%dD accuracy %d %s: array %d is all zero, the test checks nothing", ndim, acc, what, a)
		}
	}
}

func storeOf(c *Chunk[float64]) [][]float64 {
	out := [][]float64{c.StoreK}
	for _, s := range c.StoreB {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func gradOf(c *Chunk[float64]) [][]float64 {
	out := [][]float64{c.GradK}
	for _, s := range c.GradB {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// compare fails unless every array of got is within rounding of want's.
func compare(t *testing.T, what string, ndim, acc int, got, want [][]float64) {
	t.Helper()
	for a := range want {
		scale := 0.0
		for _, w := range want[a] {
			scale = math.Max(scale, math.Abs(w))
		}
		for i := range want[a] {
			if math.Abs(got[a][i]-want[a][i]) > 1e-12*scale {
				t.Errorf("%dD accuracy %d %s: array %d cell %d: %.15g, want %.15g", ndim, acc, what, a, i, got[a][i], want[a][i])
				return
			}
		}
		if scale == 0 {
			t.Errorf("%dD accuracy %d %s: array %d is all zero, the test checks nothing", ndim, acc, what, a)
		}
	}
}
