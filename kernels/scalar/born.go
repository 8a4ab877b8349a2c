package scalar

import (
	"errors"

	"github.com/torchwave/torchwave/kernels/grid"
	"github.com/torchwave/torchwave/kernels/parallel"
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
	// Flat cell indices of the receivers that record δu, [NShots][N].
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

// BornChunk is one call's run of time steps of a BornProblem. The embedded
// Chunk is the background's: its Store holds W(u), and GradC accumulates
// the gradient of both wavefields.
type BornChunk[T Float] struct {
	Chunk[T]
	// Forward: scaled scattered source amplitudes in, scattered receiver
	// amplitudes out. Backward: their gradients, as for SourceAmp and
	// ReceiverAmp. [NSteps][NShots][N].
	ScatteredSourceAmp, ScatteredReceiverAmp []T
	// ScatteredStore holds W(δu), laid out as Store (same StoreFirst); nil
	// when not needed.
	ScatteredStore []T
	// GradDC accumulates Σ W(u)·μsc over stored steps, [NShots][NY][NX];
	// backward only, and it needs Store.
	GradDC []T
	// AdjointBackground makes the backward pass also run the background's
	// adjoint, which GradC and the background's source and state
	// gradients need. Without it the background fields, SourceAmp,
	// ReceiverAmp and GradC are not touched, and a backward step costs
	// about one of Backward.
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
	if err := grid.CheckLen("dc", len(p.DC), p.models()*p.cells()); err != nil {
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
		if err := grid.CheckLen("grad dc", len(c.GradDC), p.NShots*p.cells()); err != nil {
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
	together := shotsTogether(p.Problem)
	parallel.For(together, func(lo, hi int) {
		for shot := lo; shot < hi; shot++ {
			bornForwardSteps(p, s, f, fsc, c, shot, false)
		}
	})
	for shot := together; shot < p.NShots; shot++ {
		bornForwardSteps(p, s, f, fsc, c, shot, true)
	}
}

// bornRowBlock is how many rows the Born forward advances in both fields
// before adding the coupling.
const bornRowBlock = 8

func bornForwardSteps[T Float](p *BornProblem[T], s *stencil[T], f, fsc *Fields[T], c *BornChunk[T], shot int, rowParallel bool) {
	bg := p.Problem
	cells, nx, h := bg.cells(), bg.NX, s.h
	dc := p.dcOf(shot)
	var scratch []T // W(u) on the steps the store does not keep
	for step := 0; step < c.NSteps; step++ {
		// Sweeps couple every step.
		if k := stepsPerSweep(bg, s, rowParallel, c.NSteps-step); k > 1 && p.CouplingInterval <= 1 {
			bornForwardSweep(p, s, f, fsc, c, shot, step, k, rowParallel, &scratch)
			step += k - 1
			continue
		}
		n := c.Step0 + step
		cur, nxt := step%2, (step+1)%2
		gather(c.ReceiverAmp[step*bg.NShots*bg.NReceivers:], f.U[cur], bg.ReceiverIndex, shot, shot+1, bg.NReceivers, cells)
		gather(c.ScatteredReceiverAmp[step*bg.NShots*p.NScatteredReceivers:], fsc.U[cur], p.ScatteredReceiverIndex,
			shot, shot+1, p.NScatteredReceivers, cells)
		rw, rsc := shotFields(bg, f, shot, cur, nxt), shotFields(bg, fsc, shot, cur, nxt)
		rw.w = bg.snapshot(c.Store, &c.Chunk, n, shot)
		if rw.w == nil {
			if scratch == nil {
				scratch = make([]T, cells)
			}
			rw.w = scratch
		}
		rsc.w = bg.snapshot(c.ScatteredStore, &c.Chunk, n, shot)
		factor := p.coupling(n)
		// Each row's coupling reads only that row's W(u), so both
		// wavefields and the coupling share one pass over the rows, in
		// blocks small enough that W(u) is still in cache for the
		// coupling.
		body := func(lo, hi int) {
			for b0 := lo; b0 < hi; b0 += bornRowBlock {
				b1 := min(b0+bornRowBlock, hi)
				updateRows(bg, s, &rw, h+b0, h+b1, forwardBand[T], forwardInterior[T])
				updateRows(bg, s, &rsc, h+b0, h+b1, forwardBand[T], forwardInterior[T])
				for y := h + b0; y < h+b1 && factor != 0; y++ {
					a, b := y*nx+h, (y+1)*nx-h
					addProduct(rsc.un[a:b], factor, dc[a:b], rw.w[a:b])
				}
			}
		}
		runRows(bg, h, rowParallel, body)
		src := step * bg.NShots * bg.NSources
		scatterAdd(f.U[nxt], c.SourceAmp[src:], bg.SourceIndex, shot, shot+1, bg.NSources, cells, nil)
		scatterAdd(fsc.U[nxt], c.ScatteredSourceAmp[src:], bg.SourceIndex, shot, shot+1, bg.NSources, cells, nil)
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
// k·(dc/c)·μsc, SourceAmp
// receives λ, and GradC gains W(u)·μ + W(δu)·μsc. As with Backward, the
// caller divides the gradients by c and multiplies them by the interval.
func BornBackward[T Float](p *BornProblem[T], f, fsc *Fields[T], c *BornChunk[T]) {
	s := newStencil(p.Problem)
	var ratio []T
	if c.AdjointBackground {
		ratio = make([]T, len(p.DC))
		for i, d := range p.DC {
			if p.C[i] != 0 {
				ratio[i] = d / p.C[i]
			}
		}
	}
	together := shotsTogether(p.Problem)
	parallel.For(together, func(lo, hi int) {
		for shot := lo; shot < hi; shot++ {
			bornBackwardSteps(p, s, f, fsc, c, ratio, shot, false)
		}
	})
	for shot := together; shot < p.NShots; shot++ {
		bornBackwardSteps(p, s, f, fsc, c, ratio, shot, true)
	}
}

func bornBackwardSteps[T Float](p *BornProblem[T], s *stencil[T], f, fsc *Fields[T], c *BornChunk[T], ratio []T, shot int, rowParallel bool) {
	bg := p.Problem
	cells, nx, h := bg.cells(), bg.NX, s.h
	adjointBg := c.AdjointBackground
	var r, mu []T // dc/c, and μ + (dc/c)·μsc: the input of the background's W*
	if adjointBg {
		r = ratio
		if bg.ModelPerShot {
			r = ratio[shot*cells : (shot+1)*cells]
		}
		mu = make([]T, cells) // its halo stays zero, as the fields' do
	}
	for j := 0; j < c.NSteps; j++ {
		step := c.NSteps - 1 - j
		n := c.Step0 + step
		cur, nxt := j%2, (j+1)%2
		src := step * bg.NShots * bg.NSources
		sourceGradient(bg, c.ScatteredSourceAmp[src:], fsc.U[cur], shot, shot+1, cells)
		rsc := shotFields(bg, fsc, shot, cur, nxt)
		wbg := bg.snapshot(c.Store, &c.Chunk, n, shot)
		if c.GradDC != nil && wbg != nil {
			rsc.w, rsc.g = wbg, c.GradDC[shot*cells:(shot+1)*cells]
		}
		var rw rowFields[T]
		factor := p.coupling(n)
		if adjointBg {
			sourceGradient(bg, c.SourceAmp[src:], f.U[cur], shot, shot+1, cells)
			rw = shotFields(bg, f, shot, cur, nxt)
			wsc := bg.snapshot(c.ScatteredStore, &c.Chunk, n, shot)
			var g []T
			if c.GradC != nil && wbg != nil && wsc != nil {
				g = c.GradC[shot*cells : (shot+1)*cells]
			}
			// The stencil of a row reads mu on its neighbours' rows, so
			// mu is complete before any row is updated.
			runRows(bg, h, rowParallel, func(lo, hi int) {
				for y := h + lo; y < h+hi; y++ {
					a, b := y*nx+h, (y+1)*nx-h
					u, usc := rw.u[a:b], rsc.u[a:b]
					copy(mu[a:b], u)
					if factor != 0 {
						addProduct(mu[a:b], factor, r[a:b], usc)
					}
					if g != nil {
						addProduct(g[a:b], 1, wbg[a:b], u)
						addProduct(g[a:b], 1, wsc[a:b], usc)
					}
				}
			})
			rw.u = mu
		}
		runRows(bg, h, rowParallel, func(lo, hi int) {
			updateRows(bg, s, &rsc, h+lo, h+hi, backwardBand[T], backwardInterior[T])
			if !adjointBg {
				return
			}
			updateRows(bg, s, &rw, h+lo, h+hi, backwardBand[T], backwardInterior[T])
			// The kernel's leapfrog term used 2·mu; the scheme's is 2μ.
			for y := h + lo; y < h+hi && factor != 0; y++ {
				a, b := y*nx+h, (y+1)*nx-h
				addProduct(rw.un[a:b], -2*factor, r[a:b], rsc.u[a:b])
			}
		})
		scatterAdd(fsc.U[nxt], c.ScatteredReceiverAmp[step*bg.NShots*p.NScatteredReceivers:], p.ScatteredReceiverIndex,
			shot, shot+1, p.NScatteredReceivers, cells, bg.modelOf)
		if adjointBg {
			scatterAdd(f.U[nxt], c.ReceiverAmp[step*bg.NShots*bg.NReceivers:], bg.ReceiverIndex,
				shot, shot+1, bg.NReceivers, cells, bg.modelOf)
		}
	}
}

func (p *BornProblem[T]) dcOf(shot int) []T {
	if !p.ModelPerShot {
		return p.DC
	}
	n := p.cells()
	return p.DC[shot*n : (shot+1)*n]
}
