package lbfgsb

import "math"

const epsilon = 0x1p-52

// Variable states, as iwhere in the reference implementation.
const (
	whereZeroGrad  = -3 // bounded, not at a bound, zero gradient
	whereUnbounded = -1
	whereFree      = 0
	whereLower     = 1 // held at its lower bound
	whereUpper     = 2 // held at its upper bound
	whereFixed     = 3 // lower == upper
)

// cauchy computes the generalized Cauchy point xcp: the first local
// minimiser of the quadratic model along the projected steepest-descent
// path x(t) = P(x - t·g). It examines the breakpoints in increasing order
// and updates the model's derivatives as each variable reaches its bound.
// It also sets c = Wᵀ(xcp - x) and the state of every variable at xcp.
//
// With B0 = θ·P⁻¹ block diagonal, reaching a breakpoint changes B0·d in at
// most two entries, so the update stays O(col²) per breakpoint.
func (s *Solver) cauchy() {
	n, x, g, l, u := s.n, s.x, s.g, s.lower, s.upper
	xcp, d := s.xcp, s.d
	mem := s.mem
	col := mem.col
	theta := mem.theta
	copy(xcp, x)
	c := s.c[:2*col]
	clear(c)
	if s.pgNorm <= 0 {
		clear(d)
		return
	}
	p := s.p[:2*col]
	bnded := true
	nfree := n
	nbreak := 0
	bt, bi := s.breakT[:0], s.breakI[:0]
	ibkmin := 0
	var bkmin, f1 float64
	for i := range n {
		neggi := -g[i]
		w := s.where[i]
		hasL, hasU := !math.IsInf(l[i], -1), !math.IsInf(u[i], 1)
		var tl, tu float64
		if w != whereFixed && w != whereUnbounded {
			if hasL {
				tl = x[i] - l[i]
			}
			if hasU {
				tu = u[i] - x[i]
			}
			xlower := hasL && tl <= 0
			xupper := hasU && tu <= 0
			w = whereFree
			switch {
			case xlower:
				if neggi <= 0 {
					w = whereLower
				}
			case xupper:
				if neggi >= 0 {
					w = whereUpper
				}
			case math.Abs(neggi) <= 0:
				w = whereZeroGrad
			}
			s.where[i] = w
		}
		if w != whereFree && w != whereUnbounded {
			d[i] = 0
			continue
		}
		d[i] = neggi
		f1 -= neggi * neggi
		var t float64
		switch {
		case hasL && neggi < 0:
			t = tl / -neggi
		case hasU && neggi > 0:
			t = tu / neggi
		default:
			nfree--
			if math.Abs(neggi) > 0 {
				bnded = false
			}
			continue
		}
		bt, bi = append(bt, t), append(bi, i)
		if nbreak == 0 || t < bkmin {
			bkmin, ibkmin = t, nbreak
		}
		nbreak++
	}
	s.breakT, s.breakI = bt, bi
	for j := range col {
		k := mem.slot(j)
		p[j] = dot(mem.y[k], d)
		p[col+j] = theta * dot(mem.ps[k], d)
	}
	if nbreak == 0 && nfree == n {
		return // d = 0
	}
	met := mem.metric
	v := s.v[:2*col]
	f2 := theta * met.quadInv(d)
	f2org := f2
	if col > 0 {
		mem.bmv(v, p)
		f2 -= dot(v, p)
	}
	dtm := -f1 / f2
	var tsum float64
	if nbreak > 0 {
		wbp := s.wbp[:2*col]
		nleft := nbreak
		var tj float64
		for iter := 1; ; iter++ {
			tj0 := tj
			var ibp int
			if iter == 1 {
				tj, ibp = bkmin, bi[ibkmin]
			} else {
				if iter == 2 {
					last := nbreak - 1
					bt[ibkmin], bi[ibkmin] = bt[last], bi[last]
					bt, bi = bt[:last], bi[:last]
					heapInit(bt, bi)
				}
				tj, ibp = bt[0], bi[0]
				bt, bi = heapPop(bt, bi)
			}
			dt := tj - tj0
			if dtm < dt {
				break
			}
			tsum += dt
			nleft--
			dibp := d[ibp]
			d[ibp] = 0
			var zibp float64
			if dibp > 0 {
				zibp = u[ibp] - x[ibp]
				xcp[ibp] = u[ibp]
				s.where[ibp] = whereUpper
			} else {
				zibp = l[ibp] - x[ibp]
				xcp[ibp] = l[ibp]
				s.where[ibp] = whereLower
			}
			if nleft == 0 && nbreak == n {
				// Every variable is at a bound.
				axpy(dt, p, c)
				return
			}
			dibp2 := dibp * dibp
			bb := theta * met.invDiag(ibp)
			f1 = f1 + dt*f2 + dibp2 - bb*dibp*zibp
			f2 -= bb * dibp2
			if q, off := met.partner(ibp); q >= 0 {
				zq := xcp[q] - x[q]
				if d[q] != 0 {
					zq = tsum * d[q]
				}
				f1 -= dibp * theta * off * zq
				f2 -= 2 * dibp * theta * off * d[q]
			}
			if col > 0 {
				axpy(dt, p, c)
				mem.row(wbp, ibp)
				mem.bmv(v, wbp)
				wmc, wmp, wmw := dot(c, v), dot(p, v), dot(wbp, v)
				axpy(-dibp, wbp, p)
				f1 += dibp * wmc
				f2 += 2*dibp*wmp - dibp2*wmw
			}
			f2 = math.Max(epsilon*f2org, f2)
			if nleft > 0 {
				dtm = -f1 / f2
				continue
			}
			if bnded {
				dtm = 0
			} else {
				dtm = -f1 / f2
			}
			break
		}
	}
	if dtm <= 0 {
		dtm = 0
	}
	tsum += dtm
	axpy(tsum, d, xcp)
	if col > 0 {
		axpy(dtm, p, c)
	}
}

// heapInit orders the breakpoints t (with variables i) as a min-heap.
func heapInit(t []float64, i []int) {
	for k := len(t)/2 - 1; k >= 0; k-- {
		siftDown(t, i, k)
	}
}

// heapPop removes the smallest breakpoint, which the caller has read
// from t[0] and i[0].
func heapPop(t []float64, i []int) ([]float64, []int) {
	last := len(t) - 1
	t[0], i[0] = t[last], i[last]
	t, i = t[:last], i[:last]
	siftDown(t, i, 0)
	return t, i
}

func siftDown(t []float64, i []int, k int) {
	n := len(t)
	for {
		m := k
		if a := 2*k + 1; a < n && t[a] < t[m] {
			m = a
		}
		if b := 2*k + 2; b < n && t[b] < t[m] {
			m = b
		}
		if m == k {
			return
		}
		t[k], t[m] = t[m], t[k]
		i[k], i[m] = i[m], i[k]
		k = m
	}
}
