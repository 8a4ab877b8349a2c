package scalar3d

import (
	"errors"

	"github.com/torchwave/torchwave/kernels/grid"
)

// BornProblem adds a scattered wavefield δu to a Problem: the exact
// linearisation of the forward scheme with respect to c,
//
//	δu_next = c W(δu) + dc W(u) + 2δu − δu_prev + ssc
//
// where W(δu) uses δu's own CPML fields and W(u) is the background's.
// The scattered sources ssc are injected at the background's source cells.
// It is kernels/scalar's BornProblem with one axis more.
type BornProblem[T Float] struct {
	*Problem[T] // the background; its receivers record u
	// DC is the perturbation of c, laid out as C.
	DC []T
	// Flat cell indices of the receivers that record δu, [NShots][N].
	ScatteredReceiverIndex []int64
	NScatteredReceivers    int
	// CouplingInterval k > 1 adds the coupling only on steps n with
	// n % k == 0, as k·dc W(u): the derivative of a model gradient
	// sampled every k steps. 0 or 1: every step.
	CouplingInterval int
}

// BornChunk is one call's run of time steps of a BornProblem. The embedded
// Chunk is the background's: its Store holds W(u), and GradC accumulates
// the gradient of both wavefields. Its Boundary must be nil.
type BornChunk[T Float] struct {
	Chunk[T]
	// Forward: scaled scattered source amplitudes in, scattered receiver
	// amplitudes out. Backward: their gradients, as for SourceAmp and
	// ReceiverAmp. [NSteps][NShots][N].
	ScatteredSourceAmp, ScatteredReceiverAmp []T
	// ScatteredStore holds W(δu), laid out as Store (same StoreFirst); nil
	// when not needed.
	ScatteredStore []T
	// GradDC accumulates Σ W(u)·μsc over stored steps,
	// [NShots][NZ][NY][NX]; backward only, and it needs Store.
	GradDC []T
	// AdjointBackground makes the backward pass also run the background's
	// adjoint, which GradC and the background's source and state
	// gradients need. Without it the background fields, SourceAmp,
	// ReceiverAmp and GradC are not touched.
	AdjointBackground bool
}

// bornCoupling is the factor of step n's coupling: k on coupled steps, 0
// on the others.
func (p *BornProblem[T]) bornCoupling(n int) T {
	k := max(p.CouplingInterval, 1)
	if n%k != 0 {
		return 0
	}
	return T(k)
}

func (p *BornProblem[T]) dcOf(shot int) []T {
	if !p.ModelPerShot {
		return p.DC
	}
	n := p.Cells()
	return p.DC[shot*n : (shot+1)*n]
}

// bornSnapshot returns shot's part of step n's snapshot in store, or nil
// when store is nil or step n is not stored.
func bornSnapshot[T Float](p *Problem[T], store []T, c *Chunk[T], n, shot int) []T {
	if store == nil || n%p.StoreInterval != 0 {
		return nil
	}
	cells := p.Cells()
	off := ((n/p.StoreInterval-c.StoreFirst)*p.NShots + shot) * cells
	return store[off : off+cells]
}

// Validate checks the problem as Problem.Validate does, and the Born parts.
func (p *BornProblem[T]) Validate() error {
	if p.Problem == nil {
		return errors.New("born problem without a background problem")
	}
	if err := p.Problem.Validate(); err != nil {
		return err
	}
	if err := grid.CheckLen("dc", len(p.DC), p.models()*p.Cells()); err != nil {
		return err
	}
	if p.CouplingInterval < 0 {
		return errors.New("the coupling interval must not be negative")
	}
	return p.checkLocations("scattered receiver", p.ScatteredReceiverIndex, p.NScatteredReceivers)
}

// ValidateChunk checks the buffers of one call against the problem. In a
// backward call without AdjointBackground, f and the background's
// amplitudes are not checked (they may be nil) and GradC must be nil.
func (p *BornProblem[T]) ValidateChunk(f, fsc *Fields[T], c *BornChunk[T], backward bool) error {
	bg := p.Problem
	if c.Boundary != nil {
		return errors.New("born chunks do not take boundary strips")
	}
	if backward && !c.AdjointBackground {
		if c.GradC != nil {
			return errors.New("grad c needs the background adjoint")
		}
		if c.NSteps < 0 || c.Step0 < 0 {
			return errors.New("bad step range")
		}
		if err := bg.CheckStore("store", c.Store, &c.Chunk); err != nil {
			return err
		}
	} else {
		if f == nil {
			return errors.New("no background fields")
		}
		if err := bg.ValidateChunk(f, &c.Chunk, backward); err != nil {
			return err
		}
	}
	if fsc == nil {
		return errors.New("no scattered fields")
	}
	if err := bg.CheckFields("_sc", fsc); err != nil {
		return err
	}
	if err := grid.CheckLen("scattered source amplitudes", len(c.ScatteredSourceAmp), c.NSteps*p.NShots*p.NSources); err != nil {
		return err
	}
	if err := grid.CheckLen("scattered receiver amplitudes", len(c.ScatteredReceiverAmp), c.NSteps*p.NShots*p.NScatteredReceivers); err != nil {
		return err
	}
	if err := bg.CheckStore("scattered store", c.ScatteredStore, &c.Chunk); err != nil {
		return err
	}
	if !backward {
		return nil
	}
	if c.GradDC != nil && p.CouplingInterval > 1 {
		return errors.New("grad dc is not available with a coupling interval")
	}
	if c.GradDC != nil {
		if err := grid.CheckLen("grad dc", len(c.GradDC), p.NShots*p.Cells()); err != nil {
			return err
		}
	}
	if c.GradC != nil && (c.Store == nil) != (c.ScatteredStore == nil) {
		return errors.New("grad c needs both the store and the scattered store")
	}
	return nil
}

// BornForward runs c.NSteps steps of both wavefields. Each step records
// both sets of receivers from the current wavefields, advances both, adds
// the coupling dc·W(u) to the scattered field, and adds the sources. Both
// field sets swap their buffers as in Forward.
func BornForward[T Float](p *BornProblem[T], f, fsc *Fields[T], c *BornChunk[T]) {
	bg := p.Problem
	s := newBornStencil(bg)
	shots, cells, nx, h := bg.NShots, bg.Cells(), bg.NX, s.h
	for step := 0; step < c.NSteps; step++ {
		n := c.Step0 + step
		cur, nxt := step%2, (step+1)%2
		bornGather(c.ReceiverAmp[step*shots*bg.NReceivers:], f.U[cur], bg.ReceiverIndex, shots, bg.NReceivers, cells)
		bornGather(c.ScatteredReceiverAmp[step*shots*p.NScatteredReceivers:], fsc.U[cur], p.ScatteredReceiverIndex,
			shots, p.NScatteredReceivers, cells)
		factor := p.bornCoupling(n)
		bornPlanes(bg, func(shot, z int) {
			v, vsc := bornViewShot(bg, f, shot, cur, nxt), bornViewShot(bg, fsc, shot, cur, nxt)
			wbg, wsc := bornSnapshot(bg, c.Store, &c.Chunk, n, shot), bornSnapshot(bg, c.ScatteredStore, &c.Chunk, n, shot)
			dc := p.dcOf(shot)
			row, rowSc := make([]T, nx), make([]T, nx)
			for y := h; y < bg.NY-h; y++ {
				o := (z*bg.NY + y) * nx
				bornForwardRow(bg, s, &v, z, y, row)
				bornForwardRow(bg, s, &vsc, z, y, rowSc)
				for x := h; x < nx-h && factor != 0; x++ {
					vsc.un[o+x] += factor * dc[o+x] * row[x]
				}
				if wbg != nil {
					copy(wbg[o+h:o+nx-h], row[h:nx-h])
				}
				if wsc != nil {
					copy(wsc[o+h:o+nx-h], rowSc[h:nx-h])
				}
			}
		})
		src := step * shots * bg.NSources
		bornScatterAdd(f.U[nxt], c.SourceAmp[src:], bg.SourceIndex, shots, bg.NSources, cells, nil)
		bornScatterAdd(fsc.U[nxt], c.ScatteredSourceAmp[src:], bg.SourceIndex, shots, bg.NSources, cells, nil)
	}
}

// BornBackward runs the adjoint of BornForward over the steps of c, from
// the last to the first, with both field sets scaled and swapped as in
// Backward (fsc holds μsc = c·λsc).
//
// The scattered adjoint is Backward's: c.ScatteredSourceAmp receives λsc
// at the source cells, and the scattered receiver gradient is injected.
// On the stored steps GradDC gains W(u)·μsc. With AdjointBackground the
// background adjoint runs too; the coupling adds e = (dc/c)·μsc to the
// input of its transposed W (and of its CPML adjoints), on coupled steps
// k·(dc/c)·μsc, SourceAmp receives λ, and GradC gains W(u)·μ + W(δu)·μsc.
// As with Backward, the caller divides the gradients by c and multiplies
// them by the interval.
func BornBackward[T Float](p *BornProblem[T], f, fsc *Fields[T], c *BornChunk[T]) {
	bg := p.Problem
	s := newBornStencil(bg)
	shots, cells, nx, h := bg.NShots, bg.Cells(), bg.NX, s.h
	adjointBg := c.AdjointBackground
	var ratio, mu []T // dc/c, and μ + (dc/c)·μsc: the input of the background's W*
	if adjointBg {
		ratio = make([]T, len(p.DC))
		for i, d := range p.DC {
			if bg.C[i] != 0 {
				ratio[i] = d / bg.C[i]
			}
		}
		mu = make([]T, shots*cells) // its halo stays zero, as the fields' do
	}
	ratioOf := func(shot int) []T {
		if ratio == nil || !bg.ModelPerShot {
			return ratio
		}
		return ratio[shot*cells : (shot+1)*cells]
	}
	for j := 0; j < c.NSteps; j++ {
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		src := step * shots * bg.NSources
		bornSourceGradient(bg, c.ScatteredSourceAmp[src:], fsc.U[cur])
		factor := p.bornCoupling(n)
		if adjointBg {
			bornSourceGradient(bg, c.SourceAmp[src:], f.U[cur])
			// The stencil of a cell reads mu on its neighbours, so mu is
			// complete before any cell is updated.
			bornPlanes(bg, func(shot, z int) {
				o := shot * cells
				u, usc, m, r := f.U[cur][o:o+cells], fsc.U[cur][o:o+cells], mu[o:o+cells], ratioOf(shot)
				wbg, wsc := bornSnapshot(bg, c.Store, &c.Chunk, n, shot), bornSnapshot(bg, c.ScatteredStore, &c.Chunk, n, shot)
				var g []T
				if c.GradC != nil && wbg != nil && wsc != nil {
					g = c.GradC[o : o+cells]
				}
				for y := h; y < bg.NY-h; y++ {
					for i := (z*bg.NY+y)*nx + h; i < (z*bg.NY+y+1)*nx-h; i++ {
						m[i] = u[i] + factor*r[i]*usc[i]
						if g != nil {
							g[i] += wbg[i] * u[i]
							g[i] += wsc[i] * usc[i]
						}
					}
				}
			})
		}
		bornPlanes(bg, func(shot, z int) {
			vsc := bornViewShot(bg, fsc, shot, cur, nxt)
			if wbg := bornSnapshot(bg, c.Store, &c.Chunk, n, shot); c.GradDC != nil && wbg != nil {
				vsc.w, vsc.g = wbg, c.GradDC[shot*cells:(shot+1)*cells]
			}
			var v bornView[T]
			if adjointBg {
				v = bornViewShot(bg, f, shot, cur, nxt)
				v.u = mu[shot*cells : (shot+1)*cells]
			}
			r := ratioOf(shot)
			for y := h; y < bg.NY-h; y++ {
				bornBackwardRow(bg, s, &vsc, z, y)
				if !adjointBg {
					continue
				}
				bornBackwardRow(bg, s, &v, z, y)
				// The step's leapfrog term used 2·mu; the scheme's is 2μ.
				for i := (z*bg.NY+y)*nx + h; i < (z*bg.NY+y+1)*nx-h && factor != 0; i++ {
					v.un[i] -= 2 * factor * r[i] * vsc.u[i]
				}
			}
		})
		bornScatterAdd(fsc.U[nxt], c.ScatteredReceiverAmp[step*shots*p.NScatteredReceivers:], p.ScatteredReceiverIndex,
			shots, p.NScatteredReceivers, cells, bg.ModelOf)
		if adjointBg {
			bornScatterAdd(f.U[nxt], c.ReceiverAmp[step*shots*bg.NReceivers:], bg.ReceiverIndex,
				shots, bg.NReceivers, cells, bg.ModelOf)
		}
	}
}
