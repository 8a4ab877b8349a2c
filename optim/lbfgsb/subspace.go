package lbfgsb

import "math"

// setFree records the variables left free at the Cauchy point and moves
// the Gram matrices of the memory to that set, one changed block at a time.
func (s *Solver) setFree(unconstrained bool) {
	nf := s.nextFree
	nfree := 0
	for i := range nf {
		nf[i] = unconstrained || s.where[i] <= whereFree
		if nf[i] {
			nfree++
		}
	}
	met := s.mem.metric
	changed := s.changed[:0]
	if met.kind != blockMetric {
		for i, f := range nf {
			if f != s.free[i] {
				changed = append(changed, i)
			}
		}
	} else {
		changed = s.changedBlocks(nf, changed)
	}
	s.changed = changed
	if len(changed) > 0 {
		s.mem.changeFree(changed, s.free, nf)
		s.free, s.nextFree = nf, s.free
		met.setFree(s.free)
	}
	s.nfree = nfree
	s.allFree = nfree == s.n
}

// changedBlocks appends the blocks whose free pattern differs.
func (s *Solver) changedBlocks(nf []bool, changed []int) []int {
	met := s.mem.metric
	for u := range met.units() {
		vars, _, size := met.unitKernel(u, nf)
		for k := range size {
			if nf[vars[k]] != s.free[vars[k]] {
				changed = append(changed, u)
				break
			}
		}
	}
	return changed
}

// subspace minimises the model over the free variables from the Cauchy
// point, B_F·du = r with r = -Zᵀ(g + B(xcp - x)), using
//
//	B_F⁻¹ = A⁻¹ + A⁻¹U K⁻¹ UᵀA⁻¹,  A = ZᵀB0Z,  U = ZᵀW,  K = M⁻¹ - UᵀA⁻¹U,
//
// then projects xcp + du onto the box; when the projected step is not a
// descent direction it backtracks along du to the box instead (Morales
// and Nocedal, 2011). The result is in s.xsub.
func (s *Solver) subspace(unconstrained bool) error {
	n, col := s.n, s.mem.col
	mem, met := s.mem, s.mem.metric
	theta := mem.theta
	xsub, xcp := s.xsub, s.xcp
	copy(xsub, xcp)
	if s.nfree == 0 {
		return nil
	}
	r := s.r
	if unconstrained {
		for i, gi := range s.g {
			r[i] = -gi
		}
	} else {
		z, pz := s.z, s.pz
		for i := range n {
			z[i] = xcp[i] - s.x[i]
		}
		met.invApply(pz, z)
		for i := range n {
			r[i] = -theta*pz[i] - s.g[i]
		}
		if col > 0 {
			v := s.v[:2*col]
			mem.bmv(v, s.c[:2*col])
			for j := range col {
				k := mem.slot(j)
				axpy(v[j], mem.y[k], r)
				axpy(theta*v[col+j], mem.ps[k], r)
			}
		}
		if !s.allFree {
			for i, f := range s.free {
				if !f {
					r[i] = 0
				}
			}
		}
	}
	du := s.du
	met.kernelApply(du, r, s.free, s.allFree)
	inv := 1 / theta
	for i := range du {
		du[i] *= inv
	}
	if col > 0 {
		if err := mem.factorK(); err != nil {
			return err
		}
		t, w := s.p[:2*col], s.v[:2*col]
		for j := range col {
			k := mem.slot(j)
			t[j] = dot(mem.y[k], du)
			t[col+j] = theta * dot(mem.ps[k], du)
		}
		mem.solveK(w, t)
		e := s.r
		clear(e)
		for j := range col {
			k := mem.slot(j)
			axpy(w[j], mem.y[k], e)
			axpy(theta*w[col+j], mem.ps[k], e)
		}
		e2 := s.z
		met.kernelApply(e2, e, s.free, s.allFree)
		axpy(inv, e2, du)
	}
	s.projectSubspace(du)
	return nil
}

func (s *Solver) projectSubspace(du []float64) {
	x, xsub, xcp, l, u := s.x, s.xsub, s.xcp, s.lower, s.upper
	hit := false
	for i, f := range s.free {
		if !f {
			continue
		}
		v := xcp[i] + du[i]
		if lo := l[i]; !math.IsInf(lo, -1) {
			v = math.Max(lo, v)
			hit = hit || v == lo
		}
		if hi := u[i]; !math.IsInf(hi, 1) {
			v = math.Min(hi, v)
			hit = hit || v == hi
		}
		xsub[i] = v
	}
	if !hit {
		return
	}
	var ddp float64
	for i := range xsub {
		ddp += (xsub[i] - x[i]) * s.g[i]
	}
	if ddp <= 0 {
		return
	}
	// Backtrack: the largest fraction of du that keeps xcp + du feasible.
	copy(xsub, xcp)
	alpha, ibd := 1.0, -1
	for i, f := range s.free {
		if !f {
			continue
		}
		dk := du[i]
		frac := alpha
		switch {
		case dk < 0 && !math.IsInf(l[i], -1):
			if gap := l[i] - xsub[i]; gap >= 0 {
				frac = 0
			} else if dk*alpha < gap {
				frac = gap / dk
			}
		case dk > 0 && !math.IsInf(u[i], 1):
			if gap := u[i] - xsub[i]; gap <= 0 {
				frac = 0
			} else if dk*alpha > gap {
				frac = gap / dk
			}
		}
		if frac < alpha {
			alpha, ibd = frac, i
		}
	}
	if alpha < 1 && ibd >= 0 {
		if du[ibd] > 0 {
			xsub[ibd] = u[ibd]
		} else {
			xsub[ibd] = l[ibd]
		}
		du[ibd] = 0
	}
	for i, f := range s.free {
		if f {
			xsub[i] += alpha * du[i]
		}
	}
}
