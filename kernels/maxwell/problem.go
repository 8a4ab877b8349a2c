// Package maxwell time-steps the 2D transverse-magnetic Maxwell equations
//
//	ε ∂Ey/∂t + σ Ey = ∂Hz/∂x − ∂Hx/∂y − J
//	μ ∂Hx/∂t = −∂Ey/∂y,   μ ∂Hz/∂t = ∂Ey/∂x
//
// on a Yee staggered grid (Ey at cell centres, Hx half a cell down in y,
// Hz half a cell along x) with a CPML absorbing boundary, and runs the
// exact discrete adjoint of the same scheme backwards in time.
//
// One step maps the state (Ey, Hx, Hz and the CPML memory fields) to the
// next:
//
//	dz  = D⁺y Ey,  m_Ey_z' = byh·m_Ey_z + ayh·dz,  Hx' = Hx − cq·(dz + m_Ey_z')
//	dx  = D⁺x Ey,  m_Ey_x' = bxh·m_Ey_x + axh·dx,  Hz' = Hz + cq·(dx + m_Ey_x')
//	ez  = D⁻y Hx', m_Hx_z' = by·m_Hx_z + ay·ez
//	ex  = D⁻x Hz', m_Hz_x' = bx·m_Hz_x + ax·ex
//	Ey' = ca·Ey + cb·((ex + m_Hz_x') − (ez + m_Hx_z')) + source
//
// D⁺ and D⁻ are the staggered differences to and from half cells. The
// coefficients ca, cb and cq carry ε, σ, μ and the time step; the caller
// differentiates them with respect to the physical parameters.
//
// Every field lives on a padded grid of NY×NX cells per shot whose outer
// Stencil/2 cells (the halo) stay zero; the CPML memory fields are also zero
// wherever their profile is. The caller owns every buffer.
package maxwell

import (
	"fmt"
	"math"

	"github.com/torchwave/torchwave/kernels/grid"
)

// Float is the element type of every field: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Problem is what stays fixed during one propagation.
type Problem[T Float] struct {
	NShots, NY, NX int
	Stencil        int // spatial order: 2, 4, 6 or 8
	RDY, RDX       float64
	// CA, CB, CQ are the update coefficients on the padded grid: one grid,
	// or NShots grids when ModelPerShot is set.
	CA, CB, CQ   []T
	ModelPerShot bool
	// CPML profiles: AY, BY at whole cells (the E update), AYH, BYH half a
	// cell further (the H update); the same along x.
	AY, BY, AYH, BYH []T
	AX, BX, AXH, BXH []T
	// Flat cell index within a shot's padded grid, [NShots][N]; -1 marks a
	// position that is ignored.
	SourceIndex, ReceiverIndex []int64
	NSources, NReceivers       int
	// StoreInterval: the forward pass stores what the gradient needs every
	// StoreInterval steps.
	StoreInterval int
}

// Fields is the state, [NShots][NY][NX] per buffer. The forward pass works
// in place on element 0 of each pair. The backward pass writes the next
// adjoint state of the paired fields into element 1 and swaps, so after an
// odd number of steps it is in element 1; HX and HZ are updated in place.
type Fields[T Float] struct {
	EY                     [2][]T
	HX, HZ                 []T
	MEyX, MEyZ, MHxZ, MHzX [2][]T
}

// Chunk is one call's run of time steps, Step0 up to Step0+NSteps-1.
type Chunk[T Float] struct {
	Step0, NSteps int
	// Forward: source terms in (already scaled), receiver amplitudes out.
	// Backward: source gradient out, receiver gradient in.
	// Both [NSteps][NShots][N].
	SourceAmp, ReceiverAmp []T
	// Stored per stored step from snapshot StoreFirst on (snapshot k is
	// step k·StoreInterval), [k-StoreFirst][NShots][NY][NX]: Ey before its
	// update, the CPML-corrected curl of H, and the corrected derivatives
	// of Ey that update Hx and Hz. Each may be nil. A window of snapshots
	// lets the caller stage the history elsewhere between calls.
	StoreEy, StoreCurl, StoreDZ, StoreDX []T
	StoreFirst                           int
	// Gradient accumulators, [NShots][NY][NX], backward only; each may be
	// nil, and needs its stored fields.
	GradCA, GradCB, GradCQ []T
}

// Halo is the number of cells on each edge in which fields stay zero.
func (p *Problem[T]) Halo() int { return p.Stencil / 2 }

func (p *Problem[T]) cells() int { return p.NY * p.NX }

// Validate checks that the sizes are consistent and every index is inside
// the grid, so the kernels can index without further checks.
func (p *Problem[T]) Validate() error {
	if _, ok := weights[p.Stencil]; !ok {
		return fmt.Errorf("stencil must be 2, 4, 6 or 8, got %d", p.Stencil)
	}
	h := p.Halo()
	if p.NShots < 1 || p.NY <= 2*h || p.NX <= 2*h {
		return fmt.Errorf("grid %d×%d with %d shots is too small for stencil %d", p.NY, p.NX, p.NShots, p.Stencil)
	}
	if !(p.RDY > 0 && p.RDX > 0 && !math.IsInf(p.RDY, 0) && !math.IsInf(p.RDX, 0)) {
		return fmt.Errorf("inverse grid spacings must be positive and finite, got %g, %g", p.RDY, p.RDX)
	}
	models := 1
	if p.ModelPerShot {
		models = p.NShots
	}
	for _, m := range []struct {
		name string
		s    []T
	}{{"ca", p.CA}, {"cb", p.CB}, {"cq", p.CQ}} {
		if err := grid.CheckLen(m.name, len(m.s), models*p.cells()); err != nil {
			return err
		}
	}
	for _, prof := range []struct {
		name string
		s    []T
		n    int
	}{{"ay", p.AY, p.NY}, {"by", p.BY, p.NY}, {"ayh", p.AYH, p.NY}, {"byh", p.BYH, p.NY},
		{"ax", p.AX, p.NX}, {"bx", p.BX, p.NX}, {"axh", p.AXH, p.NX}, {"bxh", p.BXH, p.NX}} {
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
	n := p.NShots * p.cells()
	pairs := map[string][2][]T{"ey": f.EY, "m_ey_x": f.MEyX, "m_ey_z": f.MEyZ, "m_hx_z": f.MHxZ, "m_hz_x": f.MHzX}
	for name, pair := range pairs {
		for k := range pair {
			if k == 1 && !backward {
				continue
			}
			if err := grid.CheckLen(fmt.Sprintf("%s[%d]", name, k), len(pair[k]), n); err != nil {
				return err
			}
		}
	}
	if err := grid.CheckLen("hx", len(f.HX), n); err != nil {
		return err
	}
	if err := grid.CheckLen("hz", len(f.HZ), n); err != nil {
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
	for name, st := range map[string][]T{"store_ey": c.StoreEy, "store_curl": c.StoreCurl, "store_dz": c.StoreDZ, "store_dx": c.StoreDX} {
		if err := p.checkStore(name, st, c); err != nil {
			return err
		}
	}
	if !backward {
		return nil
	}
	grads := []struct {
		name   string
		g      []T
		stores [][]T
	}{{"grad_ca", c.GradCA, [][]T{c.StoreEy}}, {"grad_cb", c.GradCB, [][]T{c.StoreCurl}}, {"grad_cq", c.GradCQ, [][]T{c.StoreDZ, c.StoreDX}}}
	for _, g := range grads {
		if g.g == nil {
			continue
		}
		if err := grid.CheckLen(g.name, len(g.g), n); err != nil {
			return err
		}
		for _, s := range g.stores {
			if s == nil {
				return fmt.Errorf("%s needs its stored fields", g.name)
			}
		}
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
