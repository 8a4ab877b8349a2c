package acoustic

import "github.com/torchwave/torchwave/kernels/parallel"

// The step runs as passes over the rows (z, y) of every shot, each pass
// split among the threads, with the survey in between: forward, the
// velocity half (fwdV, per axis) and the pressure half (fwdP); backward,
// the transposed pressure half (bwdA, per axis), the transposed velocity
// half fused with the update of φ and ∂K (bwdC), and the update of ψ and
// ∂B (bwdD, per axis). A pass reads its neighbours' rows, so the passes are
// kept apart. Within a row the cells run along x in segments that share
// their CPML flags; each kernel call covers one segment.

// shot is one shot's slices of the fields, models, snapshots of the step
// in hand (nil: none) and gradients (nil: not wanted).
type shot[T Float] struct {
	p, k        []T
	v, phi, psi [3][]T
	b           [3][]T
	storeK      []T
	storeB      [3][]T
	gradK       []T
	gradB       [3][]T
}

// segment is a run [x0, x1) of a row whose cells share their CPML flags.
type segment struct {
	x0, x1      int
	band, band2 bool
}

// plan is what the row kernels share during one call.
type plan[T Float] struct {
	*Problem[T]
	h    int
	dt   T
	c    [3][4]T // the weights times 1/dx along each axis, k = 1..h
	st   [3]int  // the strides of the axes
	axes []int
	// bandP and bandV mark the cells of each axis where φ (a, bp) and ψ
	// (ah, bh) are updated; nearP and nearV where the adjoint stencils
	// reach a cell of bandP or bandV.
	bandP, bandV, nearP, nearV [3][]bool
	// The x segments of fwdV and bwdD (by bandV), fwdP (bandP), bwdA
	// (nearP) and bwdC (bandP, nearV).
	segV, segP, segA, segC []segment
	z0, z1, y0, y1         int // the rows of the pressure box
	shots                  []shot[T]
	vec                    any // the vector kernels' constants
}

func newPlan[T Float](p *Problem[T], c *Chunk[T]) *plan[T] {
	h := p.Accuracy / 2
	q := &plan[T]{Problem: p, h: h, dt: T(p.DT), axes: p.Axes(), z0: 0, z1: 1, y0: 0, y1: 1}
	for d := 0; d < 3; d++ {
		q.st[d] = p.stride(d)
	}
	nx := p.N[2]
	for _, d := range q.axes {
		for k, w := range Weights[p.Accuracy] {
			q.c[d][k] = T(w * p.RD[d])
		}
		n := p.N[d]
		q.bandP[d], q.bandV[d] = make([]bool, n), make([]bool, n)
		for j := 0; j < n; j++ {
			q.bandP[d][j] = p.A[d][j] != 0 || p.Bp[d][j] != 0
			q.bandV[d][j] = p.AH[d][j] != 0 || p.BH[d][j] != 0
		}
		// bwdA at j reads bp at j−h+1..j+h, bwdC reads bh at j−h..j+h−1.
		q.nearP[d], q.nearV[d] = near(q.bandP[d], h-1, h), near(q.bandV[d], h, h-1)
		switch d {
		case 0:
			q.z0, q.z1 = h, p.N[0]-h
		case 1:
			q.y0, q.y1 = h, p.N[1]-h
		}
	}
	q.segV = segments(h, nx-h-1, q.bandV[2], nil)
	q.segP = segments(h, nx-h, q.bandP[2], nil)
	q.segA = segments(h, nx-h-1, q.nearP[2], nil)
	q.segC = segments(h, nx-h, q.bandP[2], q.nearV[2])
	cells := p.Cells()
	q.shots = make([]shot[T], p.NShots)
	for s := range q.shots {
		sh := &q.shots[s]
		o := s * cells
		ko, bo := 0, 0
		if p.KPerShot {
			ko = o
		}
		if p.BPerShot {
			bo = o
		}
		sh.k = p.K[ko : ko+cells]
		if c.GradK != nil {
			sh.gradK = c.GradK[o : o+cells]
		}
		for _, d := range q.axes {
			sh.b[d] = p.B[d][bo : bo+cells]
			if c.GradB[d] != nil {
				sh.gradB[d] = c.GradB[d][o : o+cells]
			}
		}
	}
	q.vec = vectorConstants(q)
	return q
}

// near marks the cells j with some marked cell in j−lo..j+hi.
func near(band []bool, lo, hi int) []bool {
	out := make([]bool, len(band))
	for j := range band {
		for o := max(j-lo, 0); o <= min(j+hi, len(band)-1); o++ {
			if band[o] {
				out[j] = true
				break
			}
		}
	}
	return out
}

// segments splits [lo, hi) into runs of equal (m1, m2) (m2 nil: false).
func segments(lo, hi int, m1, m2 []bool) []segment {
	var out []segment
	flags := func(x int) (bool, bool) { return m1[x], m2 != nil && m2[x] }
	for x := lo; x < hi; {
		a, b := flags(x)
		e := x + 1
		for e < hi {
			if ea, eb := flags(e); ea != a || eb != b {
				break
			}
			e++
		}
		out = append(out, segment{x, e, a, b})
		x = e
	}
	return out
}

// bind points the shots at the fields and at the snapshots of step.
func (q *plan[T]) bind(f *Fields[T], c *Chunk[T], step int) {
	cells := q.Cells()
	all := q.NShots * cells
	stored := step%q.StoreInterval == 0
	snap := (step/q.StoreInterval - c.StoreFirst) * all
	for s := range q.shots {
		sh := &q.shots[s]
		o := s * cells
		sh.p = f.P[o : o+cells]
		sh.storeK = nil
		if stored && c.StoreK != nil {
			sh.storeK = c.StoreK[snap+o : snap+o+cells]
		}
		for _, d := range q.axes {
			sh.v[d], sh.phi[d], sh.psi[d] = f.V[d][o:o+cells], f.Phi[d][o:o+cells], f.Psi[d][o:o+cells]
			sh.storeB[d] = nil
			if stored && c.StoreB[d] != nil {
				sh.storeB[d] = c.StoreB[d][snap+o : snap+o+cells]
			}
		}
	}
}

// pass runs row(sh, z, y, base) on every row of the pressure box of every
// shot, the rows shared among the threads.
func (q *plan[T]) pass(row func(sh *shot[T], z, y, base int)) {
	ny := q.y1 - q.y0
	rows := (q.z1 - q.z0) * ny
	parallel.For(q.NShots*rows, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			s, r := w/rows, w%rows
			z, y := q.z0+r/ny, q.y0+r%ny
			row(&q.shots[s], z, y, (z*q.N[1]+y)*q.N[2])
		}
	})
}

// rowAxes calls fn for each modelled axis whose velocity box holds row
// (z, y), with the row's coordinate along it (0 for x).
func (q *plan[T]) rowAxes(z, y int, fn func(d, j int)) {
	for _, d := range q.axes {
		switch {
		case d == 0 && z == q.z1-1, d == 1 && y == q.y1-1:
			continue
		case d == 0:
			fn(d, z)
		case d == 1:
			fn(d, y)
		default:
			fn(d, 0)
		}
	}
}

// rowFlags are the per-axis flags of row (z, y) from masks (false for an
// axis the grid lacks), x's from the segment.
func (q *plan[T]) rowFlags(m [3][]bool, z, y int, x bool) [3]bool {
	var f [3]bool
	if m[0] != nil {
		f[0] = m[0][z]
	}
	if m[1] != nil {
		f[1] = m[1][y]
	}
	f[2] = x
	return f
}

// Forward runs c.NSteps steps from c.Step0 in place on f, recording the
// receivers and storing snapshots where c asks.
func Forward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	q := newPlan(p, c)
	nx := p.N[2]
	h := q.h
	velocity := func(sh *shot[T], z, y, base int) {
		q.rowAxes(z, y, func(d, j int) {
			if d != 2 {
				q.fwdV(sh, d, base, h, nx-h, q.bandV[d][j], j)
				return
			}
			for _, g := range q.segV {
				q.fwdV(sh, 2, base, g.x0, g.x1, g.band, 0)
			}
		})
	}
	pressure := func(sh *shot[T], z, y, base int) {
		j := [3]int{z, y, 0}
		for _, g := range q.segP {
			q.fwdP(sh, base, g.x0, g.x1, q.rowFlags(q.bandP, z, y, g.band), j)
		}
	}
	for t := 0; t < c.NSteps; t++ {
		q.bind(f, c, c.Step0+t)
		for s := range q.shots {
			q.survey(c.ReceiverAmp, q.ReceiverIndex, q.NReceivers, s, t, true)
		}
		q.pass(velocity)
		for s := range q.shots {
			q.surveyVelocity(c.SourceAmp, q.SourceIndex, q.NSources, s, t, false)
		}
		q.pass(pressure)
		for s := range q.shots {
			p.inject(c.SourceAmp[0], p.SourceIndex[0], p.NSources[0], q.shots[s].p, s, t, false)
		}
	}
}

// Backward runs the exact adjoint of steps [c.Step0, c.Step0 + c.NSteps)
// backwards in time, in place on f (the adjoint state), reading the
// receivers' gradients from c.ReceiverAmp, writing the sources' into
// c.SourceAmp and adding the model gradients (per shot, unscaled by the
// store interval) into c.GradK and c.GradB.
//
// With λ the adjoint after a step and λdiv = −dt·K·λp, the transposed
// pressure half is λD_d = (1+b_d)·λdiv + b_d·λφ_d, λv_d −= D⁺_d-like
// differences of λD_d, λφ_d ← a_d·(λφ_d + λdiv), ∂K += −dt·(Σ E_d)·λp; the
// transposed velocity half is λG_d = −dt·B_d·λv_d, λT_d = (1+bh_d)·λG_d +
// bh_d·λψ_d, λp −= D⁻_d-like differences of λT_d, λψ_d ← ah_d·(λψ_d + λG_d),
// ∂B_d += −dt·G_d·λv_d.
func Backward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	q := newPlan(p, c)
	nx := p.N[2]
	h := q.h
	velocity := func(sh *shot[T], z, y, base int) {
		q.rowAxes(z, y, func(d, j int) {
			if d != 2 {
				q.bwdA(sh, d, base, h, nx-h, q.nearP[d][j], j)
				return
			}
			for _, g := range q.segA {
				q.bwdA(sh, 2, base, g.x0, g.x1, g.band, 0)
			}
		})
	}
	pressure := func(sh *shot[T], z, y, base int) {
		j := [3]int{z, y, 0}
		for _, g := range q.segC {
			q.bwdC(sh, base, g.x0, g.x1, q.rowFlags(q.bandP, z, y, g.band), q.rowFlags(q.nearV, z, y, g.band2), j)
		}
	}
	psi := func(sh *shot[T], z, y, base int) {
		q.rowAxes(z, y, func(d, j int) {
			if d != 2 {
				bwdD(q, sh, d, base, h, nx-h, q.bandV[d][j], j)
				return
			}
			for _, g := range q.segV {
				bwdD(q, sh, 2, base, g.x0, g.x1, g.band, 0)
			}
		})
	}
	for t := c.NSteps - 1; t >= 0; t-- {
		step := c.Step0 + t
		q.bind(f, c, step)
		for s := range q.shots {
			p.inject(c.SourceAmp[0], p.SourceIndex[0], p.NSources[0], q.shots[s].p, s, t, true)
		}
		q.pass(velocity)
		for s := range q.shots {
			q.surveyVelocity(c.SourceAmp, q.SourceIndex, q.NSources, s, t, true)
		}
		q.pass(pressure)
		if q.psiPass() {
			q.pass(psi)
		}
		for s := range q.shots {
			q.survey(c.ReceiverAmp, q.ReceiverIndex, q.NReceivers, s, t, false)
		}
	}
}

// psiPass reports whether bwdD has anything to do: a ψ band or a ∂B
// snapshot this step.
func (q *plan[T]) psiPass() bool {
	for _, d := range q.axes {
		if q.shots[0].storeB[d] != nil && q.shots[0].gradB[d] != nil {
			return true
		}
		for _, b := range q.bandV[d] {
			if b {
				return true
			}
		}
	}
	return false
}

// survey records (gather) or adds every field's receivers of shot s.
func (q *plan[T]) survey(amp [4][]T, index [4][]int64, n [4]int, s, t int, gather bool) {
	q.inject(amp[0], index[0], n[0], q.shots[s].p, s, t, gather)
	q.surveyVelocity(amp, index, n, s, t, gather)
}

// surveyVelocity injects or gathers the velocity fields' entries.
func (q *plan[T]) surveyVelocity(amp [4][]T, index [4][]int64, n [4]int, s, t int, gather bool) {
	for _, d := range q.axes {
		k := q.field(d)
		q.inject(amp[k], index[k], n[k], q.shots[s].v[d], s, t, gather)
	}
}

// field is the survey field (and box) of the velocity along 3D axis d.
func (p *Problem[T]) field(d int) int { return 1 + d - (3 - p.NDim) }

// inject adds (or, gathering, reads into amp) the entries of one shot.
func (p *Problem[T]) inject(amp []T, index []int64, n int, field []T, s, t int, gather bool) {
	for q := 0; q < n; q++ {
		i := index[s*n+q]
		if i < 0 {
			continue
		}
		if gather {
			amp[(t*p.NShots+s)*n+q] = field[i]
		} else {
			field[i] += amp[(t*p.NShots+s)*n+q]
		}
	}
}
