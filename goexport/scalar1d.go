package main

import (
	"fmt"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar"
	"github.com/torchwave/torchwave/kernels/scalar1d"
)

// The 1D scalar family (ndim = 1): a grid of nx cells per shot, with
// ny = nz = 1. Only nx, rdx, the x profiles and the u, psix and zetax
// pairs are used; the y and z pointers are never read and may be null.

func runScalar1D[T scalar.Float](a scalarCall, backward bool) error {
	if err := check1DDims(a, true); err != nil {
		return err
	}
	p, f, c := scalar1DParts[T](a)
	if err := p.Validate(); err != nil {
		return err
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		scalar1d.Backward(p, f, c)
	} else {
		scalar1d.Forward(p, f, c)
	}
	return nil
}

// check1D checks the sizes of a 1D call, ny = nz = 1 among them.
func check1D(a scalarCall) error {
	if err := checkScalarSizes(a); err != nil {
		return err
	}
	if a.ny != 1 || a.nz != 1 {
		return fmt.Errorf("a 1D call needs ny = nz = 1, got ny %d, nz %d", a.ny, a.nz)
	}
	return nil
}

// check1DDims is checkDims for a 1D call; without state, the wavefield,
// the amplitudes and grad_c are not used and may be null.
func check1DDims(a scalarCall, state bool) error {
	if err := check1D(a); err != nil {
		return err
	}
	return checkPointers(scalar1DPointers(a, state))
}

// scalar1DPointers lists the pointers a 1D call needs: scalarPointers
// without the y members.
func scalar1DPointers(a scalarCall, state bool) []namedPointer {
	required := []namedPointer{{"c", a.c}, {"ax", a.ax}, {"bx", a.bx}, {"dbx", a.dbx}}
	sizes := a.sizes()
	if state {
		required = append(required, field1DPointers("", a.u, a.psix, a.zetax)...)
	} else {
		sizes.nSteps = 0 // no amplitudes needed
	}
	required = append(required, surveyPointers(sizes, a.sourceIndex, a.sourceAmp, a.receiverIndex, a.receiverAmp)...)
	if a.nStore > 0 {
		required = append(required, namedPointer{"store", a.store})
	}
	return required
}

// field1DPointers names the buffers of the 1D field pairs, with suffix
// after each field's name.
func field1DPointers(suffix string, u, psix, zetax [2]unsafe.Pointer) []namedPointer {
	var required []namedPointer
	for k := 0; k < 2; k++ {
		name := func(field string) string { return fmt.Sprintf("%s%s[%d]", field, suffix, k) }
		required = append(required, namedPointer{name("u"), u[k]}, namedPointer{name("psix"), psix[k]}, namedPointer{name("zetax"), zetax[k]})
	}
	return required
}

// scalar1DParts views the buffers of a 1D call whose sizes check1D
// accepted; a null pointer becomes a nil slice.
func scalar1DParts[T scalar.Float](a scalarCall) (*scalar1d.Problem[T], *scalar1d.Fields[T], *scalar1d.Chunk[T]) {
	shots, nx := int(a.nShots), int(a.nx)
	models := 1
	if a.modelPerShot != 0 {
		models = shots
	}
	nsteps := int(a.nSteps)
	p := &scalar1d.Problem[T]{
		NShots: shots, NX: nx, Accuracy: int(a.accuracy), RDX: a.rdx,
		C:            slice[T](a.c, models*nx),
		ModelPerShot: a.modelPerShot != 0,
		AX:           slice[T](a.ax, nx), BX: slice[T](a.bx, nx), DBX: slice[T](a.dbx, nx),
		SourceIndex:   slice[int64](a.sourceIndex, shots*int(a.nSources)),
		ReceiverIndex: slice[int64](a.receiverIndex, shots*int(a.nReceivers)),
		NSources:      int(a.nSources), NReceivers: int(a.nReceivers),
		StoreInterval: int(a.storeInterval),
	}
	f := fields1DAt[T](shots*nx, a.u, a.psix, a.zetax)
	c := &scalar1d.Chunk[T]{
		Step0: int(a.step0), NSteps: nsteps,
		SourceAmp:   slice[T](a.sourceAmp, nsteps*shots*int(a.nSources)),
		ReceiverAmp: slice[T](a.receiverAmp, nsteps*shots*int(a.nReceivers)),
		Store:       slice[T](a.store, int(a.nStore)*shots*nx),
		StoreFirst:  int(a.storeFirst),
		GradC:       slice[T](a.gradC, shots*nx),
	}
	return p, f, c
}

// fields1DAt views the field pairs u, psix, zetax of n elements.
func fields1DAt[T scalar.Float](n int, u, psix, zetax [2]unsafe.Pointer) *scalar1d.Fields[T] {
	pair := func(v [2]unsafe.Pointer) [2][]T { return [2][]T{slice[T](v[0], n), slice[T](v[1], n)} }
	return &scalar1d.Fields[T]{U: pair(u), PsiX: pair(psix), ZetaX: pair(zetax)}
}

func runBorn1D[T scalar.Float](a bornCall, backward bool) error {
	// The background state is only used by the forward pass or the
	// background adjoint.
	state := !backward || a.adjointBg != 0
	if err := checkBornSizes(a); err != nil {
		return err
	}
	if err := check1D(a.bg); err != nil {
		return err
	}
	required := append(scalar1DPointers(a.bg, state), namedPointer{"dc", a.dc})
	required = append(required, field1DPointers("_sc", a.uSc, a.psixSc, a.zetaxSc)...)
	if err := checkPointers(append(required, bornSurveyPointers(a)...)); err != nil {
		return err
	}
	bg, f, c := scalar1DParts[T](a.bg)
	shots, n := bg.NShots, bg.NShots*bg.NX
	models := 1
	if bg.ModelPerShot {
		models = shots
	}
	nsteps := c.NSteps
	p := &scalar1d.BornProblem[T]{
		Problem:                bg,
		DC:                     slice[T](a.dc, models*bg.NX),
		ScatteredReceiverIndex: slice[int64](a.receiverIndexSc, shots*int(a.nReceiversSc)),
		NScatteredReceivers:    int(a.nReceiversSc),
		CouplingInterval:       int(a.couplingInterval),
	}
	fsc := fields1DAt[T](n, a.uSc, a.psixSc, a.zetaxSc)
	bc := &scalar1d.BornChunk[T]{
		Chunk:                *c,
		ScatteredSourceAmp:   slice[T](a.sourceAmpSc, nsteps*shots*bg.NSources),
		ScatteredReceiverAmp: slice[T](a.receiverAmpSc, nsteps*shots*int(a.nReceiversSc)),
		ScatteredStore:       slice[T](a.storeSc, int(a.bg.nStore)*n),
		GradDC:               slice[T](a.gradDC, n),
		AdjointBackground:    a.adjointBg != 0,
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if !state {
		f = nil // not read, and its pointers may be null
	}
	if err := p.ValidateChunk(f, fsc, bc, backward); err != nil {
		return err
	}
	if backward {
		scalar1d.BornBackward(p, f, fsc, bc)
	} else {
		scalar1d.BornForward(p, f, fsc, bc)
	}
	return nil
}

func runBoundary1D[T scalar.Float](a boundaryCall, backward bool) error {
	b := a.base
	if err := check1DDims(b, true); err != nil {
		return err
	}
	if err := checkSizes(propagatorSizes{b.nShots, b.ny, b.nx, b.nSources, b.nReceivers, b.nSteps, a.nStrips}); err != nil {
		return err
	}
	p, f, c := scalar1DParts[T](b)
	if err := p.Validate(); err != nil {
		return err
	}
	shots, nx := int(b.nShots), int(b.nx)
	required := []namedPointer{}
	if a.nStrips > 0 && p.BoundaryCells() > 0 {
		required = append(required, namedPointer{"strips", a.strips})
	}
	if backward {
		required = append(required, namedPointer{"u[0]", a.u[0]}, namedPointer{"u[1]", a.u[1]})
		if b.nSources > 0 && b.nSteps > 0 {
			required = append(required, namedPointer{"boundary source_amplitudes", a.sourceAmp})
		}
		if b.gradC != nil {
			required = append(required, namedPointer{"w", a.w})
		}
	}
	if err := checkPointers(required); err != nil {
		return err
	}
	c.Boundary = &scalar1d.Boundary[T]{Strips: slice[T](a.strips, int(a.nStrips)*shots*p.BoundaryCells())}
	if backward {
		c.Boundary.SourceAmp = slice[T](a.sourceAmp, int(b.nSteps)*shots*int(b.nSources))
		c.Boundary.U = [2][]T{slice[T](a.u[0], shots*nx), slice[T](a.u[1], shots*nx)}
		c.Boundary.W = slice[T](a.w, shots*nx)
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		scalar1d.Backward(p, f, c)
	} else {
		scalar1d.Forward(p, f, c)
	}
	return nil
}

// boundaryCells1D sets *n to the strip size of a 1D call's problem, which
// needs only the sizes and the PML profiles.
func boundaryCells1D[T scalar.Float](a scalarCall, n *int) error {
	if err := check1DDims(a, false); err != nil {
		return err
	}
	p, _, _ := scalar1DParts[T](a)
	if err := p.Validate(); err != nil {
		return err
	}
	*n = p.BoundaryCells()
	return nil
}
