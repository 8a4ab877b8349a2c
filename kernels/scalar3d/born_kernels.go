package scalar3d

import "github.com/torchwave/torchwave/kernels/parallel"

// The Born kernels' own step: plain Go, cell by cell, one row at a time.
// It is the step of the package comment; as in kernels/scalar, the CPML
// terms of an axis are evaluated only within a half-stencil of its
// non-zero profile coefficients (the axis's band), elsewhere its part of W
// is the plain second derivative and its ψ, ζ are not written.

// Central finite-difference weights, index k = 1..Accuracy/2 (the second
// derivative also has a centre weight): kernels/scalar's.
var (
	bornFirstDeriv = map[int][]float64{
		2: {1.0 / 2},
		4: {2.0 / 3, -1.0 / 12},
		6: {3.0 / 4, -3.0 / 20, 1.0 / 60},
		8: {4.0 / 5, -1.0 / 5, 4.0 / 105, -1.0 / 280},
	}
	bornSecondDeriv = map[int][]float64{
		2: {1},
		4: {4.0 / 3, -1.0 / 12},
		6: {3.0 / 2, -3.0 / 20, 1.0 / 90},
		8: {8.0 / 5, -1.0 / 5, 8.0 / 315, -1.0 / 560},
	}
	bornSecondDerivCentre = map[int]float64{2: -2, 4: -5.0 / 2, 6: -49.0 / 18, 8: -205.0 / 72}
)

// bornAxis is one axis of the stencil: weights already divided by the
// grid spacing, the profiles, the flat-index stride, and the band.
type bornAxis[T Float] struct {
	d1, d2   [5]T // index 1..h
	d20      T
	a, b, db []T
	stride   int
	band     []bool
}

// bornStencil is the stencil of a problem, axes z, y, x.
type bornStencil[T Float] struct {
	h    int
	axes [3]bornAxis[T]
}

func newBornStencil[T Float](p *Problem[T]) *bornStencil[T] {
	s := &bornStencil[T]{h: p.Halo()}
	for d, ax := range []struct {
		rd       float64
		a, b, db []T
		stride   int
	}{{p.RDZ, p.AZ, p.BZ, p.DBZ, p.NY * p.NX}, {p.RDY, p.AY, p.BY, p.DBY, p.NX}, {p.RDX, p.AX, p.BX, p.DBX, 1}} {
		e := &s.axes[d]
		for k, w := range bornFirstDeriv[p.Accuracy] {
			e.d1[k+1] = T(w * ax.rd)
		}
		for k, w := range bornSecondDeriv[p.Accuracy] {
			e.d2[k+1] = T(w * ax.rd * ax.rd)
		}
		e.d20 = T(bornSecondDerivCentre[p.Accuracy] * ax.rd * ax.rd)
		e.a, e.b, e.db, e.stride = ax.a, ax.b, ax.db, ax.stride
		e.band = make([]bool, len(ax.a))
		for i := range ax.a {
			if ax.a[i] == 0 && ax.b[i] == 0 && ax.db[i] == 0 {
				continue
			}
			for j := max(0, i-s.h); j <= min(len(ax.a)-1, i+s.h); j++ {
				e.band[j] = true
			}
		}
	}
	return s
}

// bornView is one shot's views of the buffers a step reads and writes,
// axes z, y, x. In the backward pass u holds μ and ψ, ζ their adjoints;
// w is the stored W (read in backward, written in forward), g the
// gradient accumulator.
type bornView[T Float] struct {
	u, un                  []T
	psi, psin, zeta, zetan [3][]T
	c, w, g                []T
}

// bornViewShot views one shot's part of every field pair.
func bornViewShot[T Float](p *Problem[T], f *Fields[T], shot, cur, nxt int) bornView[T] {
	n := p.Cells()
	a, b := shot*n, (shot+1)*n
	v := bornView[T]{u: f.U[cur][a:b], un: f.U[nxt][a:b], c: p.ModelOf(shot)}
	psis, zetas := [3][2][]T{f.PsiZ, f.PsiY, f.PsiX}, [3][2][]T{f.ZetaZ, f.ZetaY, f.ZetaX}
	for d := range psis {
		v.psi[d], v.psin[d] = psis[d][cur][a:b], psis[d][nxt][a:b]
		v.zeta[d], v.zetan[d] = zetas[d][cur][a:b], zetas[d][nxt][a:b]
	}
	return v
}

// bornForwardRow applies one forward step to the interior cells of row
// (z, y), writing W at x into wrow[x].
func bornForwardRow[T Float](p *Problem[T], s *bornStencil[T], v *bornView[T], z, y int, wrow []T) {
	h := s.h
	u := v.u
	coord := [3]int{z, y, 0}
	for x := h; x < p.NX-h; x++ {
		i := (z*p.NY+y)*p.NX + x
		coord[2] = x
		var w T
		for d := range s.axes {
			e := &s.axes[d]
			st, q := e.stride, coord[d]
			udd := e.d20 * u[i]
			for k := 1; k <= h; k++ {
				udd += e.d2[k] * (u[i+k*st] + u[i-k*st])
			}
			if !e.band[q] {
				w += udd
				continue
			}
			psi, zeta := v.psi[d], v.zeta[d]
			var ud, dpsi T
			for k := 1; k <= h; k++ {
				ud += e.d1[k] * (u[i+k*st] - u[i-k*st])
				dpsi += e.d1[k] * (e.a[q+k]*psi[i+k*st] - e.a[q-k]*psi[i-k*st])
			}
			tmp := (1+e.b[q])*udd + e.db[q]*ud + dpsi
			w += (1+e.b[q])*tmp + e.a[q]*zeta[i]
			v.psin[d][i] = e.b[q]*ud + e.a[q]*psi[i]
			v.zetan[d][i] = e.b[q]*tmp + e.a[q]*zeta[i]
		}
		v.un[i] = v.c[i]*w + 2*u[i] - v.un[i]
		wrow[x] = w
	}
}

// bornBackwardRow is the transpose of bornForwardRow on row (z, y), plus
// the gradient accumulation g += w·μ when v.g is set. Per axis, with
// Λt = (1+b)μ + b·Λζ at every cell, the adjoint of u gains
// ∂²[(1+b)Λt] − ∂[b'Λt + b·Λψ], Λψ becomes a(Λψ − ∂Λt) and Λζ becomes
// a(μ + Λζ).
func bornBackwardRow[T Float](p *Problem[T], s *bornStencil[T], v *bornView[T], z, y int) {
	h := s.h
	mu := v.u
	coord := [3]int{z, y, 0}
	for x := h; x < p.NX-h; x++ {
		i := (z*p.NY+y)*p.NX + x
		coord[2] = x
		var sum T
		for d := range s.axes {
			e := &s.axes[d]
			st, q := e.stride, coord[d]
			if !e.band[q] {
				d2 := e.d20 * mu[i]
				for k := 1; k <= h; k++ {
					d2 += e.d2[k] * (mu[i+k*st] + mu[i-k*st])
				}
				sum += d2
				continue
			}
			psi, zeta := v.psi[d], v.zeta[d]
			t := func(j, qq int) T { return (1+e.b[qq])*mu[j] + e.b[qq]*zeta[j] }
			d2 := e.d20 * (1 + e.b[q]) * t(i, q)
			var d1, dt T
			for k := 1; k <= h; k++ {
				up, dn := i+k*st, i-k*st
				tu, td := t(up, q+k), t(dn, q-k)
				d2 += e.d2[k] * ((1+e.b[q+k])*tu + (1+e.b[q-k])*td)
				d1 += e.d1[k] * ((e.db[q+k]*tu + e.b[q+k]*psi[up]) - (e.db[q-k]*td + e.b[q-k]*psi[dn]))
				dt += e.d1[k] * (tu - td)
			}
			sum += d2 - d1
			v.psin[d][i] = e.a[q] * (psi[i] - dt)
			v.zetan[d][i] = e.a[q] * (mu[i] + zeta[i])
		}
		if v.g != nil {
			v.g[i] += v.w[i] * mu[i]
		}
		v.un[i] = v.c[i]*sum + 2*mu[i] - v.un[i]
	}
}

// bornPlanes runs body(shot, z) for every shot and interior plane z,
// shared among the threads.
func bornPlanes[T Float](p *Problem[T], body func(shot, z int)) {
	h := p.Halo()
	planes := p.NZ - 2*h
	parallel.For(p.NShots*planes, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			body(j/planes, h+j%planes)
		}
	})
}

// bornGather copies every shot's field values at idx into out,
// [shot][n]; ignored positions (index -1) read as zero.
func bornGather[T Float](out, field []T, idx []int64, shots, n, cells int) {
	for j := 0; j < shots*n; j++ {
		if idx[j] < 0 {
			out[j] = 0
			continue
		}
		out[j] = field[j/n*cells+int(idx[j])]
	}
}

// bornScatterAdd adds amp, [shot][n], into field at idx, each value
// multiplied by scale(shot) at that cell when scale is set.
func bornScatterAdd[T Float](field, amp []T, idx []int64, shots, n, cells int, scale func(shot int) []T) {
	for j := 0; j < shots*n; j++ {
		if idx[j] < 0 {
			continue
		}
		v := amp[j]
		if scale != nil {
			v *= scale(j / n)[idx[j]]
		}
		field[j/n*cells+int(idx[j])] += v
	}
}

// bornSourceGradient writes λ = μ/c at every source cell.
func bornSourceGradient[T Float](p *Problem[T], out, mu []T) {
	cells := p.Cells()
	for j := 0; j < p.NShots*p.NSources; j++ {
		i := p.SourceIndex[j]
		if i < 0 {
			out[j] = 0
			continue
		}
		out[j] = mu[j/p.NSources*cells+int(i)] / p.ModelOf(j / p.NSources)[i]
	}
}
