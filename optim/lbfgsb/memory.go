package lbfgsb

import (
	"errors"

	"gonum.org/v1/gonum/mat"
)

var errSingular = errors.New("singular limited-memory matrix")

// memory is the compact limited-memory representation
//
//	B = θ·P⁻¹ - W M Wᵀ,  W = [Y, θ·P⁻¹S],  M⁻¹ = [[-D, Lᵀ], [L, θ·SᵀP⁻¹S]],
//
// where D is diag(sᵢᵀyᵢ) and L the strictly lower part of SᵀY. Pairs live
// in a ring of physical slots; logical index j (oldest first) is slot
// (head+j) mod m. Everything stored is free of θ, which changes with every
// pair, so the matrices are scaled when they are built.
type memory struct {
	n, m      int
	col, head int
	theta     float64
	metric    *metric

	s, y, ps [][]float64 // ps = P⁻¹s; the same slices as s for P = I
	sy       [][]float64 // sy[a][b] = s_aᵀ y_b
	ss       [][]float64 // ss[a][b] = s_aᵀ P⁻¹ s_b

	// Gram matrices of Y and P⁻¹S under the free kernel K_F of the free
	// set last passed to setFree, updated as that set changes.
	qyy, qyp, qpp [][]float64

	middle *mat.LU // factors of M⁻¹
	kmat   *mat.LU // factors of M⁻¹ - UᵀA⁻¹U, U = ZᵀW, A = ZᵀB0Z

	tmp []float64
}

func newMemory(n, m int, met *metric) *memory {
	mem := &memory{n: n, m: m, theta: 1, metric: met}
	square := func() [][]float64 {
		a := make([][]float64, m)
		for i := range a {
			a[i] = make([]float64, m)
		}
		return a
	}
	mem.s, mem.y = make([][]float64, m), make([][]float64, m)
	mem.ps = mem.s
	if met.kind != identityMetric {
		mem.ps = make([][]float64, m)
	}
	mem.sy, mem.ss = square(), square()
	mem.qyy, mem.qyp, mem.qpp = square(), square(), square()
	mem.tmp = make([]float64, 4*m)
	return mem
}

func (mem *memory) reset() {
	mem.col, mem.head, mem.theta = 0, 0, 1
	mem.middle, mem.kmat = nil, nil
}

func (mem *memory) slot(j int) int { return (mem.head + j) % mem.m }

// add stores the pair (s, y), with sᵀy > 0, dropping the oldest when full.
// The Gram rows of the new pair are taken over the free set free.
func (mem *memory) add(s, y []float64, sty float64, free []bool, allFree bool) error {
	var k int
	if mem.col < mem.m {
		k = mem.slot(mem.col)
		mem.col++
	} else {
		k = mem.head
		mem.head = (mem.head + 1) % mem.m
	}
	if mem.s[k] == nil {
		mem.s[k], mem.y[k] = make([]float64, mem.n), make([]float64, mem.n)
		if mem.metric.kind != identityMetric {
			mem.ps[k] = make([]float64, mem.n)
		}
	}
	copy(mem.s[k], s)
	copy(mem.y[k], y)
	mem.metric.invApply(mem.ps[k], s)
	mem.theta = mem.metric.quad(y) / sty
	for j := range mem.col {
		b := mem.slot(j)
		mem.sy[k][b] = dot(mem.s[k], mem.y[b])
		mem.sy[b][k] = dot(mem.s[b], mem.y[k])
		mem.ss[k][b] = dot(mem.s[k], mem.ps[b])
		mem.ss[b][k] = mem.ss[k][b]
		mem.qyy[k][b] = mem.metric.kernelDot(mem.y[k], mem.y[b], free, allFree)
		mem.qyy[b][k] = mem.qyy[k][b]
	}
	mem.sy[k][k] = sty
	for j := range mem.col {
		b := mem.slot(j)
		if allFree {
			// K_F = P: Yᵀ P P⁻¹S = YᵀS and (P⁻¹S)ᵀ P P⁻¹S = SᵀP⁻¹S.
			mem.qyp[k][b], mem.qyp[b][k] = mem.sy[b][k], mem.sy[k][b]
			mem.qpp[k][b], mem.qpp[b][k] = mem.ss[k][b], mem.ss[k][b]
			continue
		}
		mem.qyp[k][b] = mem.metric.kernelDot(mem.y[k], mem.ps[b], free, allFree)
		mem.qyp[b][k] = mem.metric.kernelDot(mem.y[b], mem.ps[k], free, allFree)
		mem.qpp[k][b] = mem.metric.kernelDot(mem.ps[k], mem.ps[b], free, allFree)
		mem.qpp[b][k] = mem.qpp[k][b]
	}
	return mem.factorMiddle()
}

// factorMiddle factors M⁻¹.
func (mem *memory) factorMiddle() error {
	col := mem.col
	a := mat.NewDense(2*col, 2*col, nil)
	for i := range col {
		si := mem.slot(i)
		a.Set(i, i, -mem.sy[si][si])
		for j := range col {
			sj := mem.slot(j)
			if i > j {
				a.Set(col+i, j, mem.sy[si][sj]) // L
				a.Set(j, col+i, mem.sy[si][sj]) // Lᵀ
			}
			a.Set(col+i, col+j, mem.theta*mem.ss[si][sj])
		}
	}
	var lu mat.LU
	lu.Factorize(a)
	if lu.Det() == 0 || lu.Cond() > 1/epsilon {
		mem.middle = nil
		return errSingular
	}
	mem.middle = &lu
	return nil
}

// bmv sets dst = M v, both of length 2·col.
func (mem *memory) bmv(dst, v []float64) {
	if mem.col == 0 {
		return
	}
	var d mat.VecDense
	if err := mem.middle.SolveVecTo(&d, false, mat.NewVecDense(len(v), v)); err != nil {
		// Condition was checked at factorisation; a failure here is a
		// bug, not a property of the problem.
		panic(err)
	}
	copy(dst, d.RawVector().Data)
}

// row sets w to the row of W for variable i.
func (mem *memory) row(w []float64, i int) {
	col := mem.col
	for j := range col {
		k := mem.slot(j)
		w[j] = mem.y[k][i]
		w[col+j] = mem.theta * mem.ps[k][i]
	}
}

// changeFree moves the Gram matrices from the free set old to the free set
// new, a block at a time, for the blocks in changed.
func (mem *memory) changeFree(changed []int, old, new []bool) {
	if mem.col == 0 {
		return
	}
	col := mem.col
	wy, wp := mem.tmp[:col], mem.tmp[col:2*col]
	for _, u := range changed {
		vars, kOld, size := mem.metric.unitKernel(u, old)
		_, kNew, _ := mem.metric.unitKernel(u, new)
		for a := range size {
			for b := range size {
				dk := kNew[a][b] - kOld[a][b]
				if dk == 0 {
					continue
				}
				ia, ib := vars[a], vars[b]
				for j := range col {
					k := mem.slot(j)
					wy[j], wp[j] = dk*mem.y[k][ia], dk*mem.ps[k][ia]
				}
				for j := range col {
					kj := mem.slot(j)
					for i := range col {
						ki := mem.slot(i)
						mem.qyy[ki][kj] += wy[i] * mem.y[kj][ib]
						mem.qyp[ki][kj] += wy[i] * mem.ps[kj][ib]
						mem.qpp[ki][kj] += wp[i] * mem.ps[kj][ib]
					}
				}
			}
		}
	}
}

// factorK factors K = M⁻¹ - UᵀA⁻¹U for the current free set, where
// UᵀA⁻¹U = [[Q_yy/θ, Q_yp], [Q_py, θ·Q_pp]].
func (mem *memory) factorK() error {
	col := mem.col
	th := mem.theta
	a := mat.NewDense(2*col, 2*col, nil)
	for i := range col {
		si := mem.slot(i)
		for j := range col {
			sj := mem.slot(j)
			var l, lt, d float64
			switch {
			case i == j:
				d = -mem.sy[si][si]
			case i > j:
				l = mem.sy[si][sj]
			default:
				lt = mem.sy[sj][si]
			}
			a.Set(i, j, d-mem.qyy[si][sj]/th)
			a.Set(i, col+j, lt-mem.qyp[si][sj])
			a.Set(col+i, j, l-mem.qyp[sj][si])
			a.Set(col+i, col+j, th*mem.ss[si][sj]-th*mem.qpp[si][sj])
		}
	}
	var lu mat.LU
	lu.Factorize(a)
	if lu.Det() == 0 || lu.Cond() > 1/epsilon {
		mem.kmat = nil
		return errSingular
	}
	mem.kmat = &lu
	return nil
}

// solveK sets dst = K⁻¹v.
func (mem *memory) solveK(dst, v []float64) {
	var d mat.VecDense
	if err := mem.kmat.SolveVecTo(&d, false, mat.NewVecDense(len(v), v)); err != nil {
		panic(err)
	}
	copy(dst, d.RawVector().Data)
}
