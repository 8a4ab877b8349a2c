package acoustic

// The plain-Go row kernels: the vector kernels' tails, and every kernel
// where there are none. Each covers the cells base+x, x0 ≤ x < x1, of one
// row; band flags say which CPML terms apply, and j is the row's
// coordinate along the axis (z or y) whose profile value they read (along
// x each cell reads its own).

// fwdVGeneric is the velocity half along axis d:
// G = D⁺_d p (+ ψ), v_d −= dt·B_d·G.
func fwdVGeneric[T Float](q *plan[T], sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	st, c, h, dt := q.st[d], &q.c[d], q.h, q.dt
	p, v, psi, b, store := sh.p, sh.v[d], sh.psi[d], sh.b[d], sh.storeB[d]
	ah, bh := q.AH[d], q.BH[d]
	for x := x0; x < x1; x++ {
		i := base + x
		g := c[0] * (p[i+st] - p[i])
		for k := 2; k <= h; k++ {
			g += c[k-1] * (p[i+k*st] - p[i-(k-1)*st])
		}
		if band {
			jd := j
			if d == 2 {
				jd = x
			}
			ps := bh[jd]*g + ah[jd]*psi[i]
			psi[i] = ps
			g += ps
		}
		if store != nil {
			store[i] = g
		}
		v[i] -= dt * b[i] * g
	}
}

// fwdPGeneric is the pressure half: Σ_d (D⁻_d v_d (+ φ_d)), p −= dt·K·Σ.
func fwdPGeneric[T Float](q *plan[T], sh *shot[T], base, x0, x1 int, band [3]bool, j [3]int) {
	h, dt := q.h, q.dt
	for x := x0; x < x1; x++ {
		i := base + x
		var div T
		for _, d := range q.axes {
			st, c, v := q.st[d], &q.c[d], sh.v[d]
			e := c[0] * (v[i] - v[i-st])
			for k := 2; k <= h; k++ {
				e += c[k-1] * (v[i+(k-1)*st] - v[i-k*st])
			}
			if band[d] {
				jd := j[d]
				if d == 2 {
					jd = x
				}
				ph := q.A[d][jd]*sh.phi[d][i] + q.Bp[d][jd]*e
				sh.phi[d][i] = ph
				e += ph
			}
			div += e
		}
		if sh.storeK != nil {
			sh.storeK[i] = div
		}
		sh.p[i] -= dt * sh.k[i] * div
	}
}

// bwdAGeneric is the transposed pressure half along axis d: λv_d −= the
// differences of λD_d = λdiv + bp_d·(λdiv + λφ_d), λdiv = −dt·K·λp (band:
// some bp_d the stencil reaches is not zero).
func bwdAGeneric[T Float](q *plan[T], sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	st, c, h, dt := q.st[d], &q.c[d], q.h, q.dt
	lp, k, v, phi, bp := sh.p, sh.k, sh.v[d], sh.phi[d], q.Bp[d]
	for x := x0; x < x1; x++ {
		i := base + x
		jd := j
		if d == 2 {
			jd = x
		}
		var g T
		for m := 1; m <= h; m++ {
			a, b := i+m*st, i-(m-1)*st
			la, lb := -dt*k[a]*lp[a], -dt*k[b]*lp[b]
			if band {
				la += bp[jd+m] * (la + phi[a])
				lb += bp[jd-m+1] * (lb + phi[b])
			}
			g += c[m-1] * (la - lb)
		}
		v[i] -= g
	}
}

// bwdCGeneric is the transposed velocity half, λp −= Σ_d the differences of
// λT_d = λG_d + bh_d·(λG_d + λψ_d), λG_d = −dt·B_d·λv_d (nearV: some bh_d
// the stencil reaches is not zero), after λφ_d ← a_d·(λφ_d + λdiv) where
// bandP and ∂K += −dt·(Σ E)·λp, both from λp before the update.
func bwdCGeneric[T Float](q *plan[T], sh *shot[T], base, x0, x1 int, bandP, nearV [3]bool, j [3]int) {
	h, dt := q.h, q.dt
	for x := x0; x < x1; x++ {
		i := base + x
		lp := sh.p[i]
		ldiv := -dt * sh.k[i] * lp
		if sh.gradK != nil && sh.storeK != nil {
			sh.gradK[i] += -dt * sh.storeK[i] * lp
		}
		var sum T
		for _, d := range q.axes {
			jd := j[d]
			if d == 2 {
				jd = x
			}
			if bandP[d] {
				sh.phi[d][i] = q.A[d][jd] * (sh.phi[d][i] + ldiv)
			}
			st, c, v, b, psi, bh := q.st[d], &q.c[d], sh.v[d], sh.b[d], sh.psi[d], q.BH[d]
			var g T
			for m := 1; m <= h; m++ {
				a, e := i+(m-1)*st, i-m*st
				ta, te := -dt*b[a]*v[a], -dt*b[e]*v[e]
				if nearV[d] {
					ta += bh[jd+m-1] * (ta + psi[a])
					te += bh[jd-m] * (te + psi[e])
				}
				g += c[m-1] * (ta - te)
			}
			sum += g
		}
		sh.p[i] = lp - sum
	}
}

// bwdD is the update of ψ_d ← ah_d·(ψ_d + λG_d) where band, and of ∂B_d.
func bwdD[T Float](q *plan[T], sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	v, b, psi, ah, dt := sh.v[d], sh.b[d], sh.psi[d], q.AH[d], q.dt
	store, grad := sh.storeB[d], sh.gradB[d]
	if grad != nil && store != nil {
		grad, store := grad[base+x0:base+x1], store[base+x0:base+x1]
		for x, lv := range v[base+x0 : base+x1] {
			grad[x] += -dt * store[x] * lv
		}
	}
	if !band {
		return
	}
	for x := x0; x < x1; x++ {
		i := base + x
		jd := j
		if d == 2 {
			jd = x
		}
		psi[i] = ah[jd] * (psi[i] - dt*b[i]*v[i])
	}
}
