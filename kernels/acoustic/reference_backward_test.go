package acoustic

// referenceBackward is Backward cell by cell, shot by shot.
func referenceBackward[T Float](p *Problem[T], f *Fields[T], c *Chunk[T]) {
	for s := 0; s < p.NShots; s++ {
		for t := c.NSteps - 1; t >= 0; t-- {
			p.backwardStep(f, c, s, t)
		}
	}
}

func (p *Problem[T]) backwardStep(f *Fields[T], c *Chunk[T], s, t int) {
	w := p.view(f, s)
	step := c.Step0 + t
	cells := p.Cells()
	all := p.NShots * cells
	h := p.Accuracy / 2
	wt := Weights[p.Accuracy]
	dt := T(p.DT)
	stored := step%p.StoreInterval == 0
	snap := (step/p.StoreInterval - c.StoreFirst) * all
	axes := p.Axes()
	p.inject(c.SourceAmp[0], p.SourceIndex[0], p.NSources[0], w.p, s, t, true)
	// The pressure half.
	lambdaD := func(d, j, jd int) T {
		ldiv := -dt * w.k[j] * w.p[j]
		return (1+p.Bp[d][jd])*ldiv + p.Bp[d][jd]*w.phi[d][j]
	}
	for _, d := range axes {
		st := p.stride(d)
		rd := T(p.RD[d])
		v := w.v[d]
		lo, hi := p.box(p.field(d))
		p.forEach(lo, hi, func(i int, cc [3]int) {
			j := cc[d]
			g := T(wt[0]) * (lambdaD(d, i+st, j+1) - lambdaD(d, i, j))
			for k := 2; k <= h; k++ {
				g += T(wt[k-1]) * (lambdaD(d, i+k*st, j+k) - lambdaD(d, i+(1-k)*st, j+1-k))
			}
			v[i] -= g * rd
		})
	}
	var storeK, gradK []T
	if stored && c.GradK != nil {
		storeK, gradK = c.StoreK[snap+s*cells:snap+(s+1)*cells], c.GradK[s*cells:(s+1)*cells]
	}
	lo, hi := p.box(0)
	p.forEach(lo, hi, func(i int, cc [3]int) {
		ldiv := -dt * w.k[i] * w.p[i]
		if gradK != nil {
			gradK[i] += -dt * storeK[i] * w.p[i]
		}
		for _, d := range axes {
			if j := cc[d]; p.A[d][j] != 0 || p.Bp[d][j] != 0 {
				w.phi[d][i] = p.A[d][j] * (w.phi[d][i] + ldiv)
			}
		}
	})
	for _, d := range axes {
		k := p.field(d)
		p.inject(c.SourceAmp[k], p.SourceIndex[k], p.NSources[k], w.v[d], s, t, true)
	}
	// The velocity half.
	lambdaT := func(d, j, jd int) T {
		lg := -dt * w.b[d][j] * w.v[d][j]
		return (1+p.BH[d][jd])*lg + p.BH[d][jd]*w.psi[d][j]
	}
	p.forEach(lo, hi, func(i int, cc [3]int) {
		var sum T
		for _, d := range axes {
			st := p.stride(d)
			j := cc[d]
			g := T(wt[0]) * (lambdaT(d, i, j) - lambdaT(d, i-st, j-1))
			for k := 2; k <= h; k++ {
				g += T(wt[k-1]) * (lambdaT(d, i+(k-1)*st, j+k-1) - lambdaT(d, i-k*st, j-k))
			}
			sum += g * T(p.RD[d])
		}
		w.p[i] -= sum
	})
	for _, d := range axes {
		var storeB, gradB []T
		if stored && c.GradB[d] != nil {
			storeB, gradB = c.StoreB[d][snap+s*cells:snap+(s+1)*cells], c.GradB[d][s*cells:(s+1)*cells]
		}
		lo, hi := p.box(p.field(d))
		p.forEach(lo, hi, func(i int, cc [3]int) {
			lg := -dt * w.b[d][i] * w.v[d][i]
			if gradB != nil {
				gradB[i] += -dt * storeB[i] * w.v[d][i]
			}
			if j := cc[d]; p.AH[d][j] != 0 || p.BH[d][j] != 0 {
				w.psi[d][i] = p.AH[d][j] * (w.psi[d][i] + lg)
			}
		})
	}
	// Receivers recorded the state before the step.
	fields := [4][]T{w.p, w.v[0], w.v[1], w.v[2]}
	for k := 0; k <= p.NDim; k++ {
		fk := fieldIndex(p, k)
		n := p.NReceivers[k]
		for r := 0; r < n; r++ {
			if i := p.ReceiverIndex[k][s*n+r]; i >= 0 {
				fields[fk][i] += c.ReceiverAmp[k][(t*p.NShots+s)*n+r]
			}
		}
	}
}
