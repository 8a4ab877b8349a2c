// Package scalar3d time-steps the 3D constant-density acoustic wave
// equation with a CPML absorbing boundary, and runs the exact discrete
// adjoint backwards in time: kernels/scalar with one axis more.
//
// All arrays live on a padded grid of NZ×NY×NX cells per shot (x
// fastest, flat index (z·NY + y)·NX + x): the model, the PML and a halo of
// Accuracy/2 cells on every face in which every field stays zero.
//
// One forward step, per axis d ∈ {z, y, x}:
//
//	tmp_d  = (1+b_d) ∂dd u + b'_d ∂d u + ∂d(a_d ψ_d)
//	W      = Σ_d [(1+b_d) tmp_d + a_d ζ_d]
//	u_next = c W + 2u − u_prev + s            (c = v²dt², s = scaled source)
//	ψ_d'   = b_d ∂d u + a_d ψ_d,   ζ_d' = b_d tmp_d + a_d ζ_d
//
// The backward pass propagates μ = c·λ, as kernels/scalar's does.
package scalar3d

import (
	"fmt"
	"math"

	"github.com/torchwave/torchwave/kernels/grid"
)

// Float is the element type of every field: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Problem is what stays fixed during one propagation: the grid, the model,
// the PML profiles and the source and receiver positions.
type Problem[T Float] struct {
	NShots, NZ, NY, NX int
	Accuracy           int // 2, 4, 6 or 8
	RDZ, RDY, RDX      float64
	// C is v²dt² on the padded grid: one grid, or NShots grids when
	// ModelPerShot is set.
	C            []T
	ModelPerShot bool
	// PML profiles along z (len NZ), y (len NY) and x (len NX).
	AZ, BZ, DBZ, AY, BY, DBY, AX, BX, DBX []T
	// Flat cell index within a shot's padded grid, [NShots][NSources]; -1
	// marks a position that is ignored.
	SourceIndex, ReceiverIndex []int64
	NSources, NReceivers       int
	// StoreInterval: the forward pass stores W every StoreInterval steps for
	// the model gradient.
	StoreInterval int
}

// Fields holds the wavefield state as pairs of buffers, [NShots][NZ][NY][NX]
// each. Element 0 of every pair is the current state on entry. Every step
// writes the next state into element 1 and the roles swap, so after an odd
// number of steps the current state is in element 1.
type Fields[T Float] struct {
	U, PsiZ, PsiY, PsiX, ZetaZ, ZetaY, ZetaX [2][]T
}

// Chunk is one call's run of time steps, Step0 up to Step0+NSteps-1.
type Chunk[T Float] struct {
	Step0, NSteps int
	// Forward: scaled source amplitudes in, receiver amplitudes out.
	// Backward: source gradient out, receiver gradient in.
	// Both [NSteps][NShots][N].
	SourceAmp, ReceiverAmp []T
	// Store holds W for the stored steps from snapshot StoreFirst on
	// (snapshot k is step k·StoreInterval), [k-StoreFirst][NShots][NZ][NY][NX];
	// nil when nothing is stored (forward) or no model gradient is wanted.
	Store      []T
	StoreFirst int
	// GradC accumulates Σ W·μ over stored steps, [NShots][NZ][NY][NX];
	// backward only.
	GradC []T
	// Boundary, when set, makes Forward record boundary strips and
	// Backward rebuild the forward wavefield from them, taking W from the
	// rebuilt field instead of Store (see boundary.go).
	Boundary *Boundary[T]
}

// Halo is the number of cells on each face in which fields stay zero.
func (p *Problem[T]) Halo() int { return p.Accuracy / 2 }

// Cells is the number of cells of one shot's grid.
func (p *Problem[T]) Cells() int { return p.NZ * p.NY * p.NX }

// models is the number of model grids: one, or one per shot.
func (p *Problem[T]) models() int {
	if p.ModelPerShot {
		return p.NShots
	}
	return 1
}

// ModelOf is shot's model grid.
func (p *Problem[T]) ModelOf(shot int) []T {
	if !p.ModelPerShot {
		return p.C
	}
	n := p.Cells()
	return p.C[shot*n : (shot+1)*n]
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
	if p.NShots < 1 || p.NZ <= 2*h || p.NY <= 2*h || p.NX <= 2*h {
		return fmt.Errorf("grid %d×%d×%d with %d shots is too small for accuracy %d", p.NZ, p.NY, p.NX, p.NShots, p.Accuracy)
	}
	for _, r := range []float64{p.RDZ, p.RDY, p.RDX} {
		if !(r > 0 && !math.IsInf(r, 0)) {
			return fmt.Errorf("inverse grid spacings must be positive and finite, got %g, %g, %g", p.RDZ, p.RDY, p.RDX)
		}
	}
	if err := grid.CheckLen("c", len(p.C), p.models()*p.Cells()); err != nil {
		return err
	}
	for _, prof := range []struct {
		name string
		s    []T
		n    int
	}{{"az", p.AZ, p.NZ}, {"bz", p.BZ, p.NZ}, {"dbz", p.DBZ, p.NZ},
		{"ay", p.AY, p.NY}, {"by", p.BY, p.NY}, {"dby", p.DBY, p.NY},
		{"ax", p.AX, p.NX}, {"bx", p.BX, p.NX}, {"dbx", p.DBX, p.NX}} {
		if err := grid.CheckLen(prof.name, len(prof.s), prof.n); err != nil {
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

func (p *Problem[T]) checkLocations(what string, idx []int64, n int) error {
	return grid.CheckLocationsND(what, idx, p.NShots, n, p.Halo(), p.NZ, p.NY, p.NX)
}

// ValidateChunk checks the buffers of one call against the problem.
func (p *Problem[T]) ValidateChunk(f *Fields[T], c *Chunk[T], backward bool) error {
	if err := p.CheckFields("", f); err != nil {
		return err
	}
	if c.NSteps < 0 || c.Step0 < 0 {
		return fmt.Errorf("bad step range: start %d, count %d", c.Step0, c.NSteps)
	}
	if err := grid.CheckLen("source amplitudes", len(c.SourceAmp), c.NSteps*p.NShots*p.NSources); err != nil {
		return err
	}
	if err := grid.CheckLen("receiver amplitudes", len(c.ReceiverAmp), c.NSteps*p.NShots*p.NReceivers); err != nil {
		return err
	}
	if err := p.CheckStore("store", c.Store, c); err != nil {
		return err
	}
	if err := p.checkBoundary(c, backward); err != nil {
		return err
	}
	if backward && c.GradC != nil {
		if err := grid.CheckLen("grad c", len(c.GradC), p.NShots*p.Cells()); err != nil {
			return err
		}
	}
	return nil
}

// CheckFields checks the length of every buffer of f; suffix tells the
// field sets of one call apart in messages.
func (p *Problem[T]) CheckFields(suffix string, f *Fields[T]) error {
	n := p.NShots * p.Cells()
	for _, fd := range []struct {
		name string
		pair [2][]T
	}{{"u", f.U}, {"psiz", f.PsiZ}, {"psiy", f.PsiY}, {"psix", f.PsiX}, {"zetaz", f.ZetaZ}, {"zetay", f.ZetaY}, {"zetax", f.ZetaX}} {
		for k := range fd.pair {
			if err := grid.CheckLen(fmt.Sprintf("%s%s[%d]", fd.name, suffix, k), len(fd.pair[k]), n); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckStore checks that store, when set, holds the chunk's snapshots
// from c.StoreFirst on.
func (p *Problem[T]) CheckStore(name string, store []T, c *Chunk[T]) error {
	if store == nil {
		return nil
	}
	return grid.CheckStoreWindow(name, len(store), c.Step0, c.NSteps, p.StoreInterval, c.StoreFirst, p.NShots*p.Cells())
}
