// Package acoustic time-steps the variable-density acoustic equations in
// velocity–pressure form,
//
//	ρ ∂v/∂t = −∇p + f,   (1/K) ∂p/∂t = −∇·v + s,
//
// on a staggered grid in 1, 2 or 3 dimensions, exactly as Deepwave 0.0.27's
// acoustic.c does, and runs the exact discrete adjoint of the same scheme
// backwards in time.
//
// Every field lives on a padded grid of NZ×NY×NX cells per shot (NZ = 1 in
// 2D, NZ = NY = 1 in 1D) whose outer H = Accuracy/2 cells along each
// modelled axis (the halo) stay zero. Pressure lives on the cells, velocity
// component d half a cell further along axis d. One step:
//
//	G_d = D⁺_d p;  ψ_d ← bh_d·G_d + ah_d·ψ_d;  G_d += ψ_d;  v_d ← v_d − dt·B_d·G_d
//	v_d[source] += f_d
//	E_d = D⁻_d v_d;  φ_d ← a_d·φ_d + b_d·E_d;  E_d += φ_d;  p ← p − dt·K·Σ E_d
//	p[source] += f_p
//
// G_d is evaluated on cells H ≤ j < n − H − 1 of axis d (and H ≤ j < n − H of
// the others), E_d and p on H ≤ j < n − H of every axis. Receivers record
// the state before the step. The CPML update is skipped where a cell's two
// profile values are zero, which gives the same numbers (the memory field
// is zero there). The models are the bulk modulus K and the buoyancy B_d;
// the caller differentiates them with respect to v and ρ.
package acoustic

import (
	"fmt"
)

// Float is the element type of every field: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Weights are the staggered first-derivative weights, k = 1..Accuracy/2.
var Weights = map[int][]float64{
	2: {1},
	4: {9.0 / 8.0, -1.0 / 24.0},
	6: {75.0 / 64.0, -25.0 / 384.0, 3.0 / 640.0},
	8: {1225.0 / 1024.0, -245.0 / 3072.0, 49.0 / 5120.0, -5.0 / 7168.0},
}

// Problem is what stays fixed during one propagation. Per-axis arrays are
// indexed by the 3D axis (0: z, 1: y, 2: x); only the modelled axes
// (the last NDim) are read.
type Problem[T Float] struct {
	NShots, NDim, Accuracy int
	N                      [3]int // nz, ny, nx (1 for an axis the grid lacks)
	RD                     [3]float64
	DT                     float64
	K                      []T    // [1 or NShots][cells]
	B                      [3][]T // [1 or NShots][cells] per modelled axis
	KPerShot, BPerShot     bool
	A, Bp, AH, BH          [3][]T // CPML profiles along each modelled axis
	// Survey per field: 0 pressure, then the velocity along each modelled
	// axis in order (k = 1 + d − (3 − NDim) for 3D axis d).
	SourceIndex, ReceiverIndex [4][]int64 // [NShots][n], −1 ignored
	NSources, NReceivers       [4]int
	StoreInterval              int
}

// Fields is the state (in the backward pass: its adjoint).
type Fields[T Float] struct {
	P           []T
	V, Phi, Psi [3][]T
}

// Chunk is one call's steps, survey data and history window.
type Chunk[T Float] struct {
	Step0, NSteps int
	// Per field, [NSteps][NShots][n]: the forward's scaled sources and
	// records; the backward's source gradients (out) and receiver
	// gradients (in).
	SourceAmp, ReceiverAmp [4][]T
	// Snapshots from number StoreFirst on, [n][NShots][cells]: Σ E_d for
	// K and G_d for B_d (nil: not stored, not accumulated).
	StoreK     []T
	StoreB     [3][]T
	StoreFirst int
	// Gradient sums [NShots][cells] (backward only; nil: not wanted).
	GradK []T
	GradB [3][]T
}

// Axes are the modelled axes, slowest first.
func (p *Problem[T]) Axes() []int {
	return []int{0, 1, 2}[3-p.NDim:]
}

// Cells is the number of cells of one shot's grid.
func (p *Problem[T]) Cells() int { return p.N[0] * p.N[1] * p.N[2] }

func (p *Problem[T]) stride(d int) int {
	switch d {
	case 0:
		return p.N[1] * p.N[2]
	case 1:
		return p.N[2]
	}
	return 1
}

// Validate checks the sizes of everything fixed for the propagation.
func (p *Problem[T]) Validate() error {
	if p.NDim < 1 || p.NDim > 3 {
		return fmt.Errorf("ndim must be 1, 2 or 3, got %d", p.NDim)
	}
	if _, ok := Weights[p.Accuracy]; !ok {
		return fmt.Errorf("accuracy must be 2, 4, 6 or 8, got %d", p.Accuracy)
	}
	if p.NShots < 1 {
		return fmt.Errorf("n_shots must be positive, got %d", p.NShots)
	}
	h := p.Accuracy / 2
	for d := 0; d < 3; d++ {
		modelled := d >= 3-p.NDim
		if !modelled && p.N[d] != 1 {
			return fmt.Errorf("axis %d is not modelled in %dD but has %d cells", d, p.NDim, p.N[d])
		}
		if modelled && p.N[d] < 2*h+2 {
			return fmt.Errorf("axis %d has %d cells, fewer than the %d accuracy %d needs", d, p.N[d], 2*h+2, p.Accuracy)
		}
	}
	cells := p.Cells()
	models := func(perShot bool) int {
		if perShot {
			return p.NShots * cells
		}
		return cells
	}
	if len(p.K) != models(p.KPerShot) {
		return fmt.Errorf("k has %d values, want %d (the bulk modulus)", len(p.K), models(p.KPerShot))
	}
	for _, d := range p.Axes() {
		if len(p.B[d]) != models(p.BPerShot) {
			return fmt.Errorf("buoyancy along axis %d has %d values, want %d", d, len(p.B[d]), models(p.BPerShot))
		}
		for name, prof := range map[string][]T{"a": p.A[d], "b": p.Bp[d], "ah": p.AH[d], "bh": p.BH[d]} {
			if len(prof) != p.N[d] {
				return fmt.Errorf("profile %s along axis %d has %d values, want %d", name, d, len(prof), p.N[d])
			}
		}
	}
	if p.StoreInterval < 1 {
		return fmt.Errorf("store_interval must be positive, got %d", p.StoreInterval)
	}
	for f := 0; f <= p.NDim; f++ {
		for _, set := range []struct {
			name  string
			index []int64
			n     int
		}{{"source", p.SourceIndex[f], p.NSources[f]}, {"receiver", p.ReceiverIndex[f], p.NReceivers[f]}} {
			if set.n < 0 || len(set.index) != p.NShots*set.n {
				return fmt.Errorf("%s index of field %d has %d entries, want %d", set.name, f, len(set.index), p.NShots*set.n)
			}
			for _, i := range set.index {
				if i < -1 || i >= int64(cells) {
					return fmt.Errorf("%s index %d of field %d is outside the grid of %d cells", set.name, i, f, cells)
				}
				if i >= 0 && !p.inside(int(i), f) {
					return fmt.Errorf("%s index %d of field %d is outside the field's updated cells", set.name, i, f)
				}
			}
		}
	}
	return nil
}

// inside reports whether flat cell i is one field f updates.
func (p *Problem[T]) inside(i, f int) bool {
	h := p.Accuracy / 2
	c := [3]int{i / (p.N[1] * p.N[2]), i / p.N[2] % p.N[1], i % p.N[2]}
	for _, d := range p.Axes() {
		hi := p.N[d] - h
		if f == p.field(d) {
			hi--
		}
		if c[d] < h || c[d] >= hi {
			return false
		}
	}
	return true
}

// ValidateChunk checks one call's buffers against the problem.
func (p *Problem[T]) ValidateChunk(f *Fields[T], c *Chunk[T], backward bool) error {
	n := p.NShots * p.Cells()
	if len(f.P) != n {
		return fmt.Errorf("p has %d values, want %d", len(f.P), n)
	}
	for _, d := range p.Axes() {
		for name, x := range map[string][]T{"v": f.V[d], "phi": f.Phi[d], "psi": f.Psi[d]} {
			if len(x) != n {
				return fmt.Errorf("%s along axis %d has %d values, want %d", name, d, len(x), n)
			}
		}
	}
	if c.NSteps < 0 || c.Step0 < 0 {
		return fmt.Errorf("bad step range %d + %d", c.Step0, c.NSteps)
	}
	for k := 0; k <= p.NDim; k++ {
		if len(c.SourceAmp[k]) != c.NSteps*p.NShots*p.NSources[k] {
			return fmt.Errorf("source amplitudes of field %d have %d values, want %d", k, len(c.SourceAmp[k]), c.NSteps*p.NShots*p.NSources[k])
		}
		if len(c.ReceiverAmp[k]) != c.NSteps*p.NShots*p.NReceivers[k] {
			return fmt.Errorf("receiver amplitudes of field %d have %d values, want %d", k, len(c.ReceiverAmp[k]), c.NSteps*p.NShots*p.NReceivers[k])
		}
	}
	last := (c.Step0 + c.NSteps - 1) / p.StoreInterval
	first := (c.Step0 + p.StoreInterval - 1) / p.StoreInterval
	check := func(name string, s []T) error {
		if s == nil || c.NSteps == 0 || last < first {
			return nil
		}
		if c.StoreFirst > first || len(s)%n != 0 || c.StoreFirst+len(s)/n <= last {
			return fmt.Errorf("store %s does not hold snapshots %d..%d", name, first, last)
		}
		return nil
	}
	if err := check("K", c.StoreK); err != nil {
		return err
	}
	for _, d := range p.Axes() {
		if err := check(fmt.Sprintf("B%d", d), c.StoreB[d]); err != nil {
			return err
		}
	}
	if backward {
		if c.GradK != nil && (len(c.GradK) != n || c.StoreK == nil) {
			return fmt.Errorf("grad K has %d values (want %d) or no store", len(c.GradK), n)
		}
		for _, d := range p.Axes() {
			if c.GradB[d] != nil && (len(c.GradB[d]) != n || c.StoreB[d] == nil) {
				return fmt.Errorf("grad B along axis %d has %d values (want %d) or no store", d, len(c.GradB[d]), n)
			}
		}
	}
	return nil
}
