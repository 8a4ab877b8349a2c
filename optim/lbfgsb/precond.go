package lbfgsb

import (
	"fmt"
	"math"
)

// Preconditioner is a symmetric positive definite block-diagonal matrix P,
// used as the initial inverse Hessian up to the scale θ.
type Preconditioner interface {
	metric(n int) (*metric, error)
}

// Diagonal is P = diag(D); every entry must be finite and positive.
type Diagonal []float64

// Block is P made of 2×2 blocks coupling x[i] with x[h+i], where n = 2h:
// block i is [[H11[i], H12[i]], [H12[i], H22[i]]]. Every block must be
// finite and positive definite.
type Block struct {
	H11, H12, H22 []float64
}

type metricKind int

const (
	identityMetric metricKind = iota
	diagonalMetric
	blockMetric
)

// metric holds P and P⁻¹ and the kernel of the free variables: for a set F
// of free variables, K_F = Z (Zᵀ P⁻¹ Z)⁻¹ Zᵀ, the inverse of P⁻¹ restricted
// to F and embedded in n×n. With P block diagonal, K_F is block diagonal
// too: a block with both variables free contributes its block of P, a block
// with one free variable the inverse of that variable's entry of P⁻¹.
type metric struct {
	kind metricKind
	n    int
	half int

	p, inv []float64 // diagonal: P and P⁻¹

	h11, h12, h22 []float64 // block: P
	i11, i12, i22 []float64 // block: P⁻¹

	weight []float64 // identity and diagonal: K_F's diagonal
}

func identity(n int) *metric { return &metric{kind: identityMetric, n: n} }

func (d Diagonal) metric(n int) (*metric, error) {
	if len(d) != n {
		return nil, fmt.Errorf("diagonal preconditioner has %d entries, want %d", len(d), n)
	}
	m := &metric{kind: diagonalMetric, n: n, p: append([]float64(nil), d...), inv: make([]float64, n)}
	for i, v := range d {
		if !(v > 0) || math.IsInf(v, 1) {
			return nil, fmt.Errorf("diagonal preconditioner entry %d is %v, want a finite positive number", i, v)
		}
		m.inv[i] = 1 / v
	}
	return m, nil
}

func (b Block) metric(n int) (*metric, error) {
	if n%2 != 0 {
		return nil, fmt.Errorf("block preconditioner needs an even number of variables, got %d", n)
	}
	h := n / 2
	for _, s := range []struct {
		name string
		v    []float64
	}{{"H11", b.H11}, {"H12", b.H12}, {"H22", b.H22}} {
		if len(s.v) != h {
			return nil, fmt.Errorf("block preconditioner %s has %d entries, want %d", s.name, len(s.v), h)
		}
	}
	m := &metric{kind: blockMetric, n: n, half: h,
		h11: append([]float64(nil), b.H11...), h12: append([]float64(nil), b.H12...), h22: append([]float64(nil), b.H22...),
		i11: make([]float64, h), i12: make([]float64, h), i22: make([]float64, h)}
	for i := range h {
		a, c, d := b.H11[i], b.H12[i], b.H22[i]
		det := a*d - c*c
		if !finite(a) || !finite(c) || !finite(d) || !(a > 0) || !(d > 0) || !(det > 0) || !finite(det) {
			return nil, fmt.Errorf("block preconditioner block %d [[%v, %v], [%v, %v]] is not finite and positive definite", i, a, c, c, d)
		}
		m.i11[i], m.i12[i], m.i22[i] = d/det, -c/det, a/det
	}
	return m, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// invApply sets dst = P⁻¹v.
func (m *metric) invApply(dst, v []float64) {
	switch m.kind {
	case identityMetric:
		copy(dst, v)
	case diagonalMetric:
		for i, w := range m.inv {
			dst[i] = w * v[i]
		}
	case blockMetric:
		h := m.half
		for i := range h {
			a, b := v[i], v[h+i]
			dst[i] = m.i11[i]*a + m.i12[i]*b
			dst[h+i] = m.i12[i]*a + m.i22[i]*b
		}
	}
}

// quad returns vᵀPv.
func (m *metric) quad(v []float64) float64 {
	switch m.kind {
	case diagonalMetric:
		return dotw(v, m.p, v)
	case blockMetric:
		return blockQuad(v, m.half, m.h11, m.h12, m.h22)
	}
	return dot(v, v)
}

// quadInv returns vᵀP⁻¹v.
func (m *metric) quadInv(v []float64) float64 {
	switch m.kind {
	case diagonalMetric:
		return dotw(v, m.inv, v)
	case blockMetric:
		return blockQuad(v, m.half, m.i11, m.i12, m.i22)
	}
	return dot(v, v)
}

func blockQuad(v []float64, h int, a, c, d []float64) float64 {
	var s float64
	for i := range h {
		x, y := v[i], v[h+i]
		s += x*(a[i]*x+c[i]*y) + y*(c[i]*x+d[i]*y)
	}
	return s
}

// invDiag returns (P⁻¹)_ii.
func (m *metric) invDiag(i int) float64 {
	switch m.kind {
	case diagonalMetric:
		return m.inv[i]
	case blockMetric:
		if i < m.half {
			return m.i11[i]
		}
		return m.i22[i-m.half]
	}
	return 1
}

// partner returns the variable coupled with i and (P⁻¹)_ij, or -1 when
// i is coupled with none.
func (m *metric) partner(i int) (int, float64) {
	if m.kind != blockMetric {
		return -1, 0
	}
	if i < m.half {
		return m.half + i, m.i12[i]
	}
	return i - m.half, m.i12[i-m.half]
}

// units is the number of diagonal blocks; unit u covers the variables
// unitVars(u).
func (m *metric) units() int {
	if m.kind == blockMetric {
		return m.half
	}
	return m.n
}

// unitKernel returns the variables of unit u and the block of K_F on
// them, given the free flags.
func (m *metric) unitKernel(u int, free []bool) (vars [2]int, k [2][2]float64, size int) {
	switch m.kind {
	case identityMetric, diagonalMetric:
		vars[0] = u
		if free[u] {
			k[0][0] = 1
			if m.kind == diagonalMetric {
				k[0][0] = m.p[u]
			}
		}
		return vars, k, 1
	}
	i, j := u, m.half+u
	vars = [2]int{i, j}
	switch {
	case free[i] && free[j]:
		k = [2][2]float64{{m.h11[u], m.h12[u]}, {m.h12[u], m.h22[u]}}
	case free[i]:
		k[0][0] = 1 / m.i11[u]
	case free[j]:
		k[1][1] = 1 / m.i22[u]
	}
	return vars, k, 2
}

// setFree prepares the kernel of the free set.
func (m *metric) setFree(free []bool) {
	if m.kind == blockMetric {
		return
	}
	if m.weight == nil {
		m.weight = make([]float64, m.n)
	}
	for i, f := range free {
		switch {
		case !f:
			m.weight[i] = 0
		case m.kind == diagonalMetric:
			m.weight[i] = m.p[i]
		default:
			m.weight[i] = 1
		}
	}
}

// kernelDot returns aᵀ K_F b for the free set last given to setFree.
func (m *metric) kernelDot(a, b []float64, free []bool, allFree bool) float64 {
	switch {
	case m.kind == blockMetric:
		var s float64
		for u := range m.half {
			vars, k, _ := m.unitKernel(u, free)
			x0, x1 := a[vars[0]], a[vars[1]]
			y0, y1 := b[vars[0]], b[vars[1]]
			s += x0*(k[0][0]*y0+k[0][1]*y1) + x1*(k[1][0]*y0+k[1][1]*y1)
		}
		return s
	case allFree && m.kind == identityMetric:
		return dot(a, b)
	case allFree:
		return dotw(a, m.p, b)
	}
	return dotw(a, m.weight, b)
}

// kernelApply sets dst = K_F r for the free set last given to setFree.
func (m *metric) kernelApply(dst, r []float64, free []bool, allFree bool) {
	switch {
	case m.kind == blockMetric:
		for u := range m.half {
			vars, k, _ := m.unitKernel(u, free)
			a, b := r[vars[0]], r[vars[1]]
			dst[vars[0]] = k[0][0]*a + k[0][1]*b
			dst[vars[1]] = k[1][0]*a + k[1][1]*b
		}
	case allFree && m.kind == identityMetric:
		copy(dst, r)
	case allFree:
		for i, w := range m.p {
			dst[i] = w * r[i]
		}
	default:
		for i, w := range m.weight {
			dst[i] = w * r[i]
		}
	}
}
