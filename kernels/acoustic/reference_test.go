package acoustic

// shotView is one shot's slices of the fields and models.
type shotView[T Float] struct {
	p, k        []T
	v, phi, psi [3][]T
	b           [3][]T
}

func (p *Problem[T]) view(f *Fields[T], s int) shotView[T] {
	n := p.Cells()
	o := s * n
	var w shotView[T]
	w.p = f.P[o : o+n]
	ko := 0
	if p.KPerShot {
		ko = o
	}
	bo := 0
	if p.BPerShot {
		bo = o
	}
	w.k = p.K[ko : ko+n]
	for _, d := range p.Axes() {
		w.v[d], w.phi[d], w.psi[d] = f.V[d][o:o+n], f.Phi[d][o:o+n], f.Psi[d][o:o+n]
		w.b[d] = p.B[d][bo : bo+n]
	}
	return w
}

// forEach calls fn(i, c) for every cell of the box lo ≤ c < hi (per 3D
// axis), i its flat index.
func (p *Problem[T]) forEach(lo, hi [3]int, fn func(i int, c [3]int)) {
	for z := lo[0]; z < hi[0]; z++ {
		for y := lo[1]; y < hi[1]; y++ {
			base := (z*p.N[1] + y) * p.N[2]
			for x := lo[2]; x < hi[2]; x++ {
				fn(base+x, [3]int{z, y, x})
			}
		}
	}
}

// box is the range of cells field f updates (0: pressure, 1 + d: v_d).
func (p *Problem[T]) box(f int) (lo, hi [3]int) {
	h := p.Accuracy / 2
	for d := 0; d < 3; d++ {
		lo[d], hi[d] = 0, 1
	}
	for _, d := range p.Axes() {
		lo[d], hi[d] = h, p.N[d]-h
		if f == p.field(d) {
			hi[d]--
		}
	}
	return lo, hi
}

// referenceForward is Forward cell by cell, shot by shot: the per-cell
// formula the row kernels are tested against.
func referenceForward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	for s := 0; s < p.NShots; s++ {
		for t := 0; t < c.NSteps; t++ {
			p.forwardStep(f, c, s, t)
		}
	}
}

func (p *Problem[T]) forwardStep(f *Fields[T], c *Chunk[T], s, t int) {
	w := p.view(f, s)
	step := c.Step0 + t
	cells := p.Cells()
	all := p.NShots * cells
	h := p.Accuracy / 2
	wt := Weights[p.Accuracy]
	dt := T(p.DT)
	// Receivers record the state before the step.
	fields := [4][]T{w.p, w.v[0], w.v[1], w.v[2]}
	for k := 0; k <= p.NDim; k++ {
		fk := fieldIndex(p, k)
		n := p.NReceivers[k]
		for r := 0; r < n; r++ {
			if i := p.ReceiverIndex[k][s*n+r]; i >= 0 {
				c.ReceiverAmp[k][(t*p.NShots+s)*n+r] = fields[fk][i]
			}
		}
	}
	stored := step%p.StoreInterval == 0
	snap := (step/p.StoreInterval - c.StoreFirst) * all
	for _, d := range p.Axes() {
		st := p.stride(d)
		rd := T(p.RD[d])
		ah, bh := p.AH[d], p.BH[d]
		v, psi, b := w.v[d], w.psi[d], w.b[d]
		var store []T
		if stored && c.StoreB[d] != nil {
			store = c.StoreB[d][snap+s*cells : snap+(s+1)*cells]
		}
		lo, hi := p.box(p.field(d))
		p.forEach(lo, hi, func(i int, cc [3]int) {
			g := T(wt[0]) * (w.p[i+st] - w.p[i])
			for k := 2; k <= h; k++ {
				g += T(wt[k-1]) * (w.p[i+k*st] - w.p[i+(1-k)*st])
			}
			g *= rd
			if j := cc[d]; ah[j] != 0 || bh[j] != 0 {
				ps := bh[j]*g + ah[j]*psi[i]
				psi[i] = ps
				g += ps
			}
			if store != nil {
				store[i] = g
			}
			v[i] -= dt * b[i] * g
		})
	}
	for _, d := range p.Axes() {
		k := p.field(d)
		p.inject(c.SourceAmp[k], p.SourceIndex[k], p.NSources[k], w.v[d], s, t, false)
	}
	var storeK []T
	if stored && c.StoreK != nil {
		storeK = c.StoreK[snap+s*cells : snap+(s+1)*cells]
	}
	lo, hi := p.box(0)
	axes := p.Axes()
	p.forEach(lo, hi, func(i int, cc [3]int) {
		var div T
		for _, d := range axes {
			st := p.stride(d)
			v := w.v[d]
			e := T(wt[0]) * (v[i] - v[i-st])
			for k := 2; k <= h; k++ {
				e += T(wt[k-1]) * (v[i+(k-1)*st] - v[i-k*st])
			}
			e *= T(p.RD[d])
			if j := cc[d]; p.A[d][j] != 0 || p.Bp[d][j] != 0 {
				ph := p.A[d][j]*w.phi[d][i] + p.Bp[d][j]*e
				w.phi[d][i] = ph
				e += ph
			}
			div += e
		}
		if storeK != nil {
			storeK[i] = div
		}
		w.p[i] -= dt * w.k[i] * div
	})
	p.inject(c.SourceAmp[0], p.SourceIndex[0], p.NSources[0], w.p, s, t, false)
}

// fieldIndex maps survey field k (0 pressure, 1.. the modelled axes in
// order) to the index into [p, v_z, v_y, v_x].
func fieldIndex[T Float](p *Problem[T], k int) int {
	if k == 0 {
		return 0
	}
	return 1 + p.Axes()[k-1]
}
