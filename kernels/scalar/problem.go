// Package scalar time-steps the 2D constant-density acoustic wave equation
//
//	u_tt = v² ∇²u + sources
//
// with a CPML absorbing boundary (Pasalic & McGarry), and runs the exact
// discrete adjoint of the same scheme backwards in time.
//
// All arrays live on a padded grid of NY×NX cells per shot: the model, the
// PML and a halo of Accuracy/2 cells in which every field stays zero. The
// caller owns every buffer; the kernels never allocate per step.
//
// One forward step maps (u, u_prev, ψy, ψx, ζy, ζx) to the next state:
//
//	tmp_y  = (1+b_y) ∂yy u + b'_y ∂y u + ∂y(a_y ψy)
//	W      = (1+b_y) tmp_y + a_y ζy + (same in x)
//	u_next = c W + 2u − u_prev + s            (c = v²dt², s = scaled source)
//	ψy'    = b_y ∂y u + a_y ψy,   ζy' = b_y tmp_y + a_y ζy
//
// The backward pass propagates μ = c·λ (λ the adjoint of u). In the interior
// μ obeys the same recurrence as u, so the adjoint reuses the forward's
// fast kernel; only the PML band needs the transposed CPML terms.
package scalar

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
	NShots, NY, NX int
	Accuracy       int // 2, 4, 6 or 8
	RDY, RDX       float64
	// C is v²dt² on the padded grid: one grid, or NShots grids when
	// ModelPerShot is set.
	C            []T
	ModelPerShot bool
	// PML profiles along y (len NY) and x (len NX).
	AY, BY, DBY, AX, BX, DBX []T
	// Flat cell index within a shot's padded grid, [NShots][NSources]; -1
	// marks a position that is ignored.
	SourceIndex, ReceiverIndex []int64
	NSources, NReceivers       int
	// StoreInterval: the forward pass stores W every StoreInterval steps for
	// the model gradient.
	StoreInterval int
}

// Fields holds the wavefield state as pairs of buffers, [NShots][NY][NX]
// each. Element 0 of every pair is the current state on entry. Every step
// writes the next state into element 1 and the roles swap, so after an odd
// number of steps the current state is in element 1.
type Fields[T Float] struct {
	U, PsiY, PsiX, ZetaY, ZetaX [2][]T
}

// Chunk is one call's run of time steps, Step0 up to Step0+NSteps-1.
type Chunk[T Float] struct {
	Step0, NSteps int
	// Forward: scaled source amplitudes in, receiver amplitudes out.
	// Backward: source gradient out, receiver gradient in.
	// Both [NSteps][NShots][N].
	SourceAmp, ReceiverAmp []T
	// Store holds W for the stored steps from snapshot StoreFirst on
	// (snapshot k is step k·StoreInterval), [k-StoreFirst][NShots][NY][NX];
	// nil when nothing is stored (forward) or no model gradient is wanted.
	// A buffer that holds only one chunk's snapshots lets the caller keep
	// the history elsewhere (host memory, disk, compressed, recomputed).
	Store      []T
	StoreFirst int
	// GradC accumulates Σ W·μ over stored steps, [NShots][NY][NX]; backward only.
	GradC []T
	// Boundary, when set, makes Forward record boundary strips and
	// Backward rebuild the forward wavefield from them, taking W from the
	// rebuilt field instead of Store (see boundary.go).
	Boundary *Boundary[T]
}

// Halo is the number of cells on each edge in which fields stay zero.
func (p *Problem[T]) Halo() int { return p.Accuracy / 2 }

func (p *Problem[T]) cells() int { return p.NY * p.NX }

// models is the number of model grids: one, or one per shot.
func (p *Problem[T]) models() int {
	if p.ModelPerShot {
		return p.NShots
	}
	return 1
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
	if p.NShots < 1 || p.NY <= 2*h || p.NX <= 2*h {
		return fmt.Errorf("grid %d×%d with %d shots is too small for accuracy %d", p.NY, p.NX, p.NShots, p.Accuracy)
	}
	if !(p.RDY > 0 && p.RDX > 0 && !math.IsInf(p.RDY, 0) && !math.IsInf(p.RDX, 0)) {
		return fmt.Errorf("inverse grid spacings must be positive and finite, got %g, %g", p.RDY, p.RDX)
	}
	if err := grid.CheckLen("c", len(p.C), p.models()*p.cells()); err != nil {
		return err
	}
	for _, prof := range []struct {
		name string
		s    []T
		n    int
	}{{"ay", p.AY, p.NY}, {"by", p.BY, p.NY}, {"dby", p.DBY, p.NY}, {"ax", p.AX, p.NX}, {"bx", p.BX, p.NX}, {"dbx", p.DBX, p.NX}} {
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
	return grid.CheckLocations(what, idx, p.NShots, n, p.NY, p.NX, p.Halo())
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
		if err := grid.CheckLen("grad c", len(c.GradC), p.NShots*p.cells()); err != nil {
			return err
		}
	}
	return nil
}

// checkFields checks the length of every buffer of f; suffix tells the
// field sets of one call apart in messages.
func (p *Problem[T]) checkFields(suffix string, f *Fields[T]) error {
	n := p.NShots * p.cells()
	for _, fd := range []struct {
		name string
		pair [2][]T
	}{{"u", f.U}, {"psiy", f.PsiY}, {"psix", f.PsiX}, {"zetay", f.ZetaY}, {"zetax", f.ZetaX}} {
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
	return grid.CheckStoreWindow(name, len(store), c.Step0, c.NSteps, p.StoreInterval, c.StoreFirst, p.NShots*p.cells())
}
