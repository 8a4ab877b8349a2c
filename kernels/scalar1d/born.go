package scalar1d

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
type BornProblem[T Float] struct {
	*Problem[T] // the background; its receivers record u
	// DC is the perturbation of c, laid out as C.
	DC []T
	// Cell indices of the receivers that record δu, [NShots][N].
	ScatteredReceiverIndex []int64
	NScatteredReceivers    int
	// CouplingInterval k > 1 adds the coupling only on steps n with
	// n % k == 0, as k·dc W(u): the derivative of a model gradient
	// sampled every k steps. 0 or 1: every step.
	CouplingInterval int
}

// coupling is the factor of step n's coupling: k on coupled steps, 0 on
// the others.
func (p *BornProblem[T]) coupling(n int) T {
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
	return p.DC[shot*p.NX : (shot+1)*p.NX]
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
	// GradDC accumulates Σ W(u)·μsc over stored steps, [NShots][NX];
	// backward only, and it needs Store.
	GradDC []T
	// AdjointBackground makes the backward pass also run the background's
	// adjoint, which GradC and the background's source and state
	// gradients need. Without it the background fields, SourceAmp,
	// ReceiverAmp and GradC are not touched.
	AdjointBackground bool
}

// Validate checks the problem as Problem.Validate does, and the Born parts.
func (p *BornProblem[T]) Validate() error {
	if p.Problem == nil {
		return errors.New("born problem without a background problem")
	}
	if err := p.Problem.Validate(); err != nil {
		return err
	}
	if err := grid.CheckLen("dc", len(p.DC), p.models()*p.NX); err != nil {
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
		if err := checkSteps(&c.Chunk); err != nil {
			return err
		}
		if err := bg.checkStore("store", c.Store, &c.Chunk); err != nil {
			return err
		}
	} else if err := bg.ValidateChunk(f, &c.Chunk, backward); err != nil {
		return err
	}
	if err := bg.checkFields("_sc", fsc); err != nil {
		return err
	}
	if err := grid.CheckLen("scattered source amplitudes", len(c.ScatteredSourceAmp), c.NSteps*p.NShots*p.NSources); err != nil {
		return err
	}
	if err := grid.CheckLen("scattered receiver amplitudes", len(c.ScatteredReceiverAmp), c.NSteps*p.NShots*p.NScatteredReceivers); err != nil {
		return err
	}
	if err := bg.checkStore("scattered store", c.ScatteredStore, &c.Chunk); err != nil {
		return err
	}
	if !backward {
		return nil
	}
	if c.GradDC != nil && p.CouplingInterval > 1 {
		return errors.New("grad dc is not available with a coupling interval")
	}
	if c.GradDC != nil {
		if err := grid.CheckLen("grad dc", len(c.GradDC), p.NShots*p.NX); err != nil {
			return err
		}
	}
	if c.GradC != nil && (c.Store == nil) != (c.ScatteredStore == nil) {
		return errors.New("grad c needs both the store and the scattered store")
	}
	return nil
}

// BornForward runs c.NSteps steps of both wavefields. Each step records
// both sets of receivers from the current wavefields, advances both, and
// adds the sources. Both field sets swap their buffers as in Forward.
func BornForward[T Float](p *BornProblem[T], f, fsc *Fields[T], c *BornChunk[T]) {
	s := newStencil(p.Problem)
	eachShot(p.NShots, func(shot int) { bornForwardShot(p, s, f, fsc, c, shot) })
}

func bornForwardShot[T Float](p *BornProblem[T], s *stencil[T], f, fsc *Fields[T], c *BornChunk[T], shot int) {
	bg := p.Problem
	nx, h := bg.NX, s.h
	dc := p.dcOf(shot)
	var scratch []T // W(u) on the steps the store does not keep
	for step := 0; step < c.NSteps; step++ {
		n := c.Step0 + step
		cur, nxt := step%2, (step+1)%2
		gather(c.ReceiverAmp[step*bg.NShots*bg.NReceivers:], f.U[cur], bg.ReceiverIndex, shot, bg.NReceivers, nx)
		gather(c.ScatteredReceiverAmp[step*bg.NShots*p.NScatteredReceivers:], fsc.U[cur], p.ScatteredReceiverIndex,
			shot, p.NScatteredReceivers, nx)
		rw, rsc := viewShot(bg, f, shot, cur, nxt), viewShot(bg, fsc, shot, cur, nxt)
		rw.w = bg.snapshot(c.Store, &c.Chunk, n, shot)
		if rw.w == nil {
			if scratch == nil {
				scratch = make([]T, nx)
			}
			rw.w = scratch
		}
		rsc.w = bg.snapshot(c.ScatteredStore, &c.Chunk, n, shot)
		forwardStep(bg, s, &rw)
		forwardStep(bg, s, &rsc)
		if factor := p.coupling(n); factor != 0 {
			for x := h; x < nx-h; x++ {
				rsc.un[x] += factor * dc[x] * rw.w[x]
			}
		}
		src := step * bg.NShots * bg.NSources
		scatterAdd(f.U[nxt], c.SourceAmp[src:], bg.SourceIndex, shot, bg.NSources, nx, nil)
		scatterAdd(fsc.U[nxt], c.ScatteredSourceAmp[src:], bg.SourceIndex, shot, bg.NSources, nx, nil)
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
	s := newStencil(p.Problem)
	eachShot(p.NShots, func(shot int) { bornBackwardShot(p, s, f, fsc, c, shot) })
}

func bornBackwardShot[T Float](p *BornProblem[T], s *stencil[T], f, fsc *Fields[T], c *BornChunk[T], shot int) {
	bg := p.Problem
	nx, h := bg.NX, s.h
	adjointBg := c.AdjointBackground
	var r, mu []T // dc/c, and μ + (dc/c)·μsc: the input of the background's W*
	if adjointBg {
		model, dc := bg.modelOf(shot), p.dcOf(shot)
		r = make([]T, nx)
		for i := range r {
			if model[i] != 0 {
				r[i] = dc[i] / model[i]
			}
		}
		mu = make([]T, nx) // its halo stays zero, as the fields' do
	}
	for j := 0; j < c.NSteps; j++ {
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		src := step * bg.NShots * bg.NSources
		sourceGradient(bg, c.ScatteredSourceAmp[src:], fsc.U[cur], shot)
		rsc := viewShot(bg, fsc, shot, cur, nxt)
		wbg := bg.snapshot(c.Store, &c.Chunk, n, shot)
		if c.GradDC != nil && wbg != nil {
			rsc.w, rsc.g = wbg, c.GradDC[shot*nx:(shot+1)*nx]
		}
		factor := p.coupling(n)
		var rw shotFields[T]
		if adjointBg {
			sourceGradient(bg, c.SourceAmp[src:], f.U[cur], shot)
			rw = viewShot(bg, f, shot, cur, nxt)
			wsc := bg.snapshot(c.ScatteredStore, &c.Chunk, n, shot)
			var g []T
			if c.GradC != nil && wbg != nil && wsc != nil {
				g = c.GradC[shot*nx : (shot+1)*nx]
			}
			for x := h; x < nx-h; x++ {
				mu[x] = rw.u[x] + factor*r[x]*rsc.u[x]
				if g != nil {
					g[x] += wbg[x] * rw.u[x]
					g[x] += wsc[x] * rsc.u[x]
				}
			}
			rw.u = mu
		}
		backwardStep(bg, s, &rsc)
		if adjointBg {
			backwardStep(bg, s, &rw)
			// The step's leapfrog term used 2·mu; the scheme's is 2μ.
			for x := h; x < nx-h && factor != 0; x++ {
				rw.un[x] -= 2 * factor * r[x] * rsc.u[x]
			}
		}
		scatterAdd(fsc.U[nxt], c.ScatteredReceiverAmp[step*bg.NShots*p.NScatteredReceivers:], p.ScatteredReceiverIndex,
			shot, p.NScatteredReceivers, nx, bg.modelOf(shot))
		if adjointBg {
			scatterAdd(f.U[nxt], c.ReceiverAmp[step*bg.NShots*bg.NReceivers:], bg.ReceiverIndex,
				shot, bg.NReceivers, nx, bg.modelOf(shot))
		}
	}
}
