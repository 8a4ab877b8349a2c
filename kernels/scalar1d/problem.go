// Package scalar1d time-steps the 1D constant-density acoustic wave
// equation
//
//	u_tt = v² ∂xx u + sources
//
// with a CPML absorbing boundary, and runs the exact discrete adjoint of
// the same scheme backwards in time. It is kernels/scalar with one axis:
// the same step, the same conventions for the adjoint, stores, chunks,
// boundary saving and Born modelling, on a padded grid of NX cells per
// shot whose Accuracy/2 halo cells at each end stay zero.
//
// One forward step maps (u, u_prev, ψ, ζ) to the next state:
//
//	tmp    = (1+b) ∂xx u + b' ∂x u + ∂x(a ψ)
//	W      = (1+b) tmp + a ζ
//	u_next = c W + 2u − u_prev + s            (c = v²dt², s = scaled source)
//	ψ'     = b ∂x u + a ψ,   ζ' = b tmp + a ζ
//
// As in 2D, the CPML terms are evaluated only on the cells within a
// half-stencil of a non-zero profile coefficient (the band); elsewhere W
// is the plain second derivative and ψ, ζ are not written.
//
// The backward pass propagates μ = c·λ (λ the adjoint of u), as
// kernels/scalar.Backward does. Grids are small in 1D, so the kernels are
// plain Go, run in parallel over shots.
package scalar1d

import (
	"fmt"
	"math"

	"github.com/torchwave/torchwave/kernels/grid"
	"github.com/torchwave/torchwave/kernels/parallel"
)

// Float is the element type of every field: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Problem is what stays fixed during one propagation: the grid, the model,
// the PML profiles and the source and receiver positions.
type Problem[T Float] struct {
	NShots, NX int
	Accuracy   int // 2, 4, 6 or 8
	RDX        float64
	// C is v²dt² on the padded grid: one grid, or NShots grids when
	// ModelPerShot is set.
	C            []T
	ModelPerShot bool
	// PML profiles along x, len NX each.
	AX, BX, DBX []T
	// Cell index within a shot's padded grid, [NShots][NSources]; -1
	// marks a position that is ignored.
	SourceIndex, ReceiverIndex []int64
	NSources, NReceivers       int
	// StoreInterval: the forward pass stores W every StoreInterval steps for
	// the model gradient.
	StoreInterval int
}

// Fields holds the wavefield state as pairs of buffers, [NShots][NX]
// each. Element 0 of every pair is the current state on entry (for U,
// element 1 is the previous step's). Every step writes the next state into
// element 1 and the roles swap, so after an odd number of steps the
// current state is in element 1.
type Fields[T Float] struct {
	U, PsiX, ZetaX [2][]T
}

// Chunk is one call's run of time steps, Step0 up to Step0+NSteps-1.
type Chunk[T Float] struct {
	Step0, NSteps int
	// Forward: scaled source amplitudes in, receiver amplitudes out.
	// Backward: source gradient out, receiver gradient in.
	// Both [NSteps][NShots][N].
	SourceAmp, ReceiverAmp []T
	// Store holds W for the stored steps from snapshot StoreFirst on
	// (snapshot k is step k·StoreInterval), [k-StoreFirst][NShots][NX];
	// nil when nothing is stored (forward) or no model gradient is wanted.
	Store      []T
	StoreFirst int
	// GradC accumulates Σ W·μ over stored steps, [NShots][NX]; backward
	// only.
	GradC []T
	// Boundary, when set, makes Forward record boundary strips and
	// Backward rebuild the forward wavefield from them, taking W from the
	// rebuilt field instead of Store (see boundary.go).
	Boundary *Boundary[T]
}

// Halo is the number of cells at each end in which fields stay zero.
func (p *Problem[T]) Halo() int { return p.Accuracy / 2 }

// models is the number of model grids: one, or one per shot.
func (p *Problem[T]) models() int {
	if p.ModelPerShot {
		return p.NShots
	}
	return 1
}

func (p *Problem[T]) modelOf(shot int) []T {
	if !p.ModelPerShot {
		return p.C
	}
	return p.C[shot*p.NX : (shot+1)*p.NX]
}

// Validate checks that the sizes are consistent and every index is inside
// the grid, so the kernels can index without further checks.
func (p *Problem[T]) Validate() error {
	switch p.Accuracy {
	case 2, 4, 6, 8:
	default:
		return fmt.Errorf("accuracy must be 2, 4, 6 or 8, got %d", p.Accuracy)
	}
	h := p.Halo()
	if p.NShots < 1 || p.NX <= 2*h {
		return fmt.Errorf("grid of %d cells with %d shots is too small for accuracy %d", p.NX, p.NShots, p.Accuracy)
	}
	if !(p.RDX > 0 && !math.IsInf(p.RDX, 0)) {
		return fmt.Errorf("the inverse grid spacing must be positive and finite, got %g", p.RDX)
	}
	if err := grid.CheckLen("c", len(p.C), p.models()*p.NX); err != nil {
		return err
	}
	for _, prof := range []struct {
		name string
		s    []T
	}{{"ax", p.AX}, {"bx", p.BX}, {"dbx", p.DBX}} {
		if err := grid.CheckLen(prof.name, len(prof.s), p.NX); err != nil {
			return err
		}
	}
	if err := p.checkLocations("source", p.SourceIndex, p.NSources); err != nil {
		return err
	}
	if err := p.checkLocations("receiver", p.ReceiverIndex, p.NReceivers); err != nil {
		return err
	}
	if p.StoreInterval < 1 {
		return fmt.Errorf("store interval must be at least 1, got %d", p.StoreInterval)
	}
	return nil
}

// checkLocations checks what's cell indices, [NShots][n]: each must lie
// inside the halo, or be -1 (ignored).
func (p *Problem[T]) checkLocations(what string, idx []int64, n int) error {
	if n < 0 {
		return fmt.Errorf("negative number of %ss", what)
	}
	if err := grid.CheckLen(what+" index", len(idx), p.NShots*n); err != nil {
		return err
	}
	h := int64(p.Halo())
	for _, i := range idx {
		if i != -1 && (i < h || i >= int64(p.NX)-h) {
			return fmt.Errorf("%s index %d is outside the %d-cell grid's interior", what, i, p.NX)
		}
	}
	return nil
}

// ValidateChunk checks the buffers of one call against the problem.
func (p *Problem[T]) ValidateChunk(f *Fields[T], c *Chunk[T], backward bool) error {
	if err := p.checkFields("", f); err != nil {
		return err
	}
	if err := checkSteps(c); err != nil {
		return err
	}
	if err := grid.CheckLen("source amplitudes", len(c.SourceAmp), c.NSteps*p.NShots*p.NSources); err != nil {
		return err
	}
	if err := grid.CheckLen("receiver amplitudes", len(c.ReceiverAmp), c.NSteps*p.NShots*p.NReceivers); err != nil {
		return err
	}
	if err := p.checkStore("store", c.Store, c); err != nil {
		return err
	}
	if err := p.checkBoundary(c, backward); err != nil {
		return err
	}
	if backward && c.GradC != nil {
		if err := grid.CheckLen("grad c", len(c.GradC), p.NShots*p.NX); err != nil {
			return err
		}
	}
	return nil
}

// checkFields checks the length of every buffer of f; suffix tells the
// field sets of one call apart in messages.
func (p *Problem[T]) checkFields(suffix string, f *Fields[T]) error {
	if f == nil {
		return fmt.Errorf("no fields%s", suffix)
	}
	n := p.NShots * p.NX
	for _, fd := range []struct {
		name string
		pair [2][]T
	}{{"u", f.U}, {"psix", f.PsiX}, {"zetax", f.ZetaX}} {
		for k := range fd.pair {
			if err := grid.CheckLen(fmt.Sprintf("%s%s[%d]", fd.name, suffix, k), len(fd.pair[k]), n); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkSteps[T Float](c *Chunk[T]) error {
	if c.NSteps < 0 || c.Step0 < 0 {
		return fmt.Errorf("bad step range: start %d, count %d", c.Step0, c.NSteps)
	}
	return nil
}

// checkStore checks that store, when set, holds the chunk's snapshots
// from c.StoreFirst on.
func (p *Problem[T]) checkStore(name string, store []T, c *Chunk[T]) error {
	if store == nil {
		return nil
	}
	return grid.CheckStoreWindow(name, len(store), c.Step0, c.NSteps, p.StoreInterval, c.StoreFirst, p.NShots*p.NX)
}

// snapshot returns shot's part of step n's snapshot in store, or nil when
// store is nil or step n is not stored.
func (p *Problem[T]) snapshot(store []T, c *Chunk[T], n, shot int) []T {
	if store == nil || n%p.StoreInterval != 0 {
		return nil
	}
	off := ((n/p.StoreInterval-c.StoreFirst)*p.NShots + shot) * p.NX
	return store[off : off+p.NX]
}

// eachShot runs body for every shot, the shots shared among the threads.
func eachShot(shots int, body func(shot int)) {
	parallel.For(shots, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			body(s)
		}
	})
}
