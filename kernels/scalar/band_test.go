package scalar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestBandKernelsMatchFormula runs one step of every row through the band
// and interior kernels as the propagators call them (updateRows), forward
// and adjoint, and through forwardCPML/backwardCPML and the generic
// interior loops, the formula written out one cell at a time. The vector
// build splits the band into y-only, x-only and corner loops, in assembly
// for float32; every output field, the stored W (forward) and the
// gradient (adjoint) must match the formula to round-off. The grid is
// wide enough for several pieces of a y-band row and for scalar tails.
func TestBandKernelsMatchFormula(t *testing.T) {
	for _, acc := range []int{2, 4, 6, 8} {
		for _, backward := range []bool{false, true} {
			for _, withW := range []bool{false, true} {
				name := fmt.Sprintf("acc%d/backward=%v/w=%v", acc, backward, withW)
				rng := rand.New(rand.NewPCG(5, uint64(acc)))
				p := testProblem(acc, 1, 47, 1203, 13, rng)
				x := randomState(p, rng)
				w := randomVec(len(x.u), rng)
				g0 := randomVec(len(x.u), rng)
				run := func(generic bool) (*Fields[float64], []float64) {
					f := fieldsFrom(x)
					rw := shotFields(p, f, 0, 0, 1)
					var out []float64
					switch {
					case withW && backward:
						rw.w, rw.g = w, append([]float64(nil), g0...)
						out = rw.g
					case withW:
						rw.w = make([]float64, len(x.u))
						out = rw.w
					}
					band, interior := kernels64(generic, backward)
					updateRows(p, newStencil(p), &rw, p.Halo(), p.NY-p.Halo(), band, interior)
					return f, out
				}
				want, wantW := run(true)
				got, gotW := run(false)
				fields := func(f *Fields[float64], w []float64) [][]float64 {
					return [][]float64{f.U[1], f.PsiY[1], f.PsiX[1], f.ZetaY[1], f.ZetaX[1], w}
				}
				names := []string{"u", "psiy", "psix", "zetay", "zetax", "w or g"}
				for i, g := range fields(got, gotW) {
					if d := maxRelDiff64(g, fields(want, wantW)[i]); d > 1e-13 {
						t.Errorf("%s float64 %s: differs from the formula by %.2e", name, names[i], d)
					}
				}

				q := float32Problem(p)
				f32 := float32Fields(fieldsFrom(x))
				rw := shotFields(q, f32, 0, 0, 1)
				var out []float32
				switch {
				case withW && backward:
					rw.w, rw.g = toF32(w), toF32(g0)
					out = rw.g
				case withW:
					rw.w = make([]float32, len(x.u))
					out = rw.w
				}
				band, interior := forwardBand[float32], forwardInterior[float32]
				if backward {
					band, interior = backwardBand[float32], backwardInterior[float32]
				}
				updateRows(q, newStencil(q), &rw, q.Halo(), q.NY-q.Halo(), band, interior)
				for i, g := range [][]float32{f32.U[1], f32.PsiY[1], f32.PsiX[1], f32.ZetaY[1], f32.ZetaX[1], out} {
					if g == nil {
						continue
					}
					if d := maxRelDiff(g, fields(want, wantW)[i]); d > 3e-6 || math.IsNaN(d) {
						t.Errorf("%s float32 %s: differs from the formula by %.2e", name, names[i], d)
					}
				}
			}
		}
	}
}

// kernels64 returns the float64 band and interior kernels, or the generic
// formula written out cell by cell.
func kernels64(generic, backward bool) (func(*Problem[float64], *stencil[float64], *rowFields[float64], int, int, int, int), func(*stencil[float64], *rowFields[float64], int, int, int)) {
	switch {
	case !generic && !backward:
		return forwardBand[float64], forwardInterior[float64]
	case !generic:
		return backwardBand[float64], backwardInterior[float64]
	}
	cpml, interior := forwardCPML[float64], forwardInteriorGeneric[float64]
	if backward {
		cpml, interior = backwardCPML[float64], backwardInteriorGeneric[float64]
	}
	return func(p *Problem[float64], s *stencil[float64], f *rowFields[float64], y0, y1, x0, x1 int) {
		for y := y0; y < y1; y++ {
			cpml(p, s, f, y, x0, x1)
		}
	}, interior
}

func maxRelDiff64(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(a[i]-b[i]))
		den = math.Max(den, math.Abs(b[i]))
	}
	if den == 0 {
		return num
	}
	return num / den
}

func float32Problem(p *Problem[float64]) *Problem[float32] {
	return &Problem[float32]{NShots: p.NShots, NY: p.NY, NX: p.NX, Accuracy: p.Accuracy, RDY: p.RDY, RDX: p.RDX,
		C: toF32(p.C), AY: toF32(p.AY), BY: toF32(p.BY), DBY: toF32(p.DBY), AX: toF32(p.AX), BX: toF32(p.BX), DBX: toF32(p.DBX),
		SourceIndex: p.SourceIndex, ReceiverIndex: p.ReceiverIndex, NSources: p.NSources, NReceivers: p.NReceivers, StoreInterval: 1}
}

func float32Fields(f *Fields[float64]) *Fields[float32] {
	pair := func(v [2][]float64) [2][]float32 { return [2][]float32{toF32(v[0]), toF32(v[1])} }
	return &Fields[float32]{U: pair(f.U), PsiY: pair(f.PsiY), PsiX: pair(f.PsiX), ZetaY: pair(f.ZetaY), ZetaX: pair(f.ZetaX)}
}
