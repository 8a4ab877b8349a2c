package main

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar3d"
)

// The 3D scalar family (ndim = 3): every [ny][nx] of the 2D call reads
// [nz][ny][nx], with the z profiles and the z CPML fields as well.

func runScalar3D[T scalar3d.Float](a scalarCall, backward bool) error {
	if err := checkDims3D(a, true); err != nil {
		return err
	}
	p, f, c := scalar3DParts[T](a)
	if err := p.Validate(); err != nil {
		return err
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		scalar3d.Backward(p, f, c)
	} else {
		scalar3d.Forward(p, f, c)
	}
	return nil
}

// sizes3D is a.sizes() with the grid's nz·ny as its ny, so that
// checkSizes bounds the products of every buffer; nz and ny must already
// be in range.
func sizes3D(a scalarCall) propagatorSizes {
	s := a.sizes()
	s.ny = a.nz * a.ny
	return s
}

// checkSizes3D rejects negative, huge or overflowing sizes of a 3D call.
func checkSizes3D(a scalarCall) error {
	if err := checkScalarSizes(a); err != nil {
		return err
	}
	if a.nz < 1 || a.nz > sizeLimit {
		return fmt.Errorf("nz = %d is out of range", a.nz)
	}
	if float64(a.nz)*float64(a.ny) > sizeLimit {
		return errors.New("problem size overflows")
	}
	return checkSizes(sizes3D(a))
}

// checkDims3D is checkDims for a 3D call: sizes first, then every pointer
// the call needs (with state: the fields, amplitudes and store too).
func checkDims3D(a scalarCall, state bool) error {
	if err := checkSizes3D(a); err != nil {
		return err
	}
	return checkPointers(scalar3DPointers(a, state))
}

// scalar3DPointers is scalarPointers with the z members.
func scalar3DPointers(a scalarCall, state bool) []namedPointer {
	required := []namedPointer{{"c", a.c}, {"az", a.az}, {"bz", a.bz}, {"dbz", a.dbz},
		{"ay", a.ay}, {"by", a.by}, {"dby", a.dby}, {"ax", a.ax}, {"bx", a.bx}, {"dbx", a.dbx}}
	sizes := sizes3D(a)
	if state {
		required = append(required, fieldPointers("", a.u, a.psiy, a.psix, a.zetay, a.zetax)...)
		for k := 0; k < 2; k++ {
			required = append(required, namedPointer{fmt.Sprintf("psiz[%d]", k), a.psiz[k]},
				namedPointer{fmt.Sprintf("zetaz[%d]", k), a.zetaz[k]})
		}
	} else {
		sizes.nSteps = 0 // no amplitudes needed
	}
	required = append(required, surveyPointers(sizes, a.sourceIndex, a.sourceAmp, a.receiverIndex, a.receiverAmp)...)
	if a.nStore > 0 {
		required = append(required, namedPointer{"store", a.store})
	}
	return required
}

// scalar3DParts views the buffers of a call whose sizes checkDims3D
// accepted; a null pointer becomes a nil slice.
func scalar3DParts[T scalar3d.Float](a scalarCall) (*scalar3d.Problem[T], *scalar3d.Fields[T], *scalar3d.Chunk[T]) {
	shots, nz, ny, nx := int(a.nShots), int(a.nz), int(a.ny), int(a.nx)
	cells := nz * ny * nx
	models := 1
	if a.modelPerShot != 0 {
		models = shots
	}
	nsteps := int(a.nSteps)
	p := &scalar3d.Problem[T]{
		NShots: shots, NZ: nz, NY: ny, NX: nx, Accuracy: int(a.accuracy),
		RDZ: a.rdz, RDY: a.rdy, RDX: a.rdx,
		C:            slice[T](a.c, models*cells),
		ModelPerShot: a.modelPerShot != 0,
		AZ:           slice[T](a.az, nz), BZ: slice[T](a.bz, nz), DBZ: slice[T](a.dbz, nz),
		AY: slice[T](a.ay, ny), BY: slice[T](a.by, ny), DBY: slice[T](a.dby, ny),
		AX: slice[T](a.ax, nx), BX: slice[T](a.bx, nx), DBX: slice[T](a.dbx, nx),
		SourceIndex:   slice[int64](a.sourceIndex, shots*int(a.nSources)),
		ReceiverIndex: slice[int64](a.receiverIndex, shots*int(a.nReceivers)),
		NSources:      int(a.nSources), NReceivers: int(a.nReceivers),
		StoreInterval: int(a.storeInterval),
	}
	n := shots * cells
	pair := func(v [2]unsafe.Pointer) [2][]T { return [2][]T{slice[T](v[0], n), slice[T](v[1], n)} }
	f := &scalar3d.Fields[T]{U: pair(a.u), PsiZ: pair(a.psiz), PsiY: pair(a.psiy), PsiX: pair(a.psix),
		ZetaZ: pair(a.zetaz), ZetaY: pair(a.zetay), ZetaX: pair(a.zetax)}
	c := &scalar3d.Chunk[T]{
		Step0: int(a.step0), NSteps: nsteps,
		SourceAmp:   slice[T](a.sourceAmp, nsteps*shots*int(a.nSources)),
		ReceiverAmp: slice[T](a.receiverAmp, nsteps*shots*int(a.nReceivers)),
		Store:       slice[T](a.store, int(a.nStore)*n),
		StoreFirst:  int(a.storeFirst),
		GradC:       slice[T](a.gradC, n),
	}
	return p, f, c
}

func runBoundary3D[T scalar3d.Float](a boundaryCall, backward bool) error {
	b := a.base
	if err := checkDims3D(b, true); err != nil {
		return err
	}
	s := sizes3D(b)
	s.nStore = a.nStrips
	if err := checkSizes(s); err != nil {
		return err
	}
	p, f, c := scalar3DParts[T](b)
	if err := p.Validate(); err != nil {
		return err
	}
	shots, cells := int(b.nShots), p.Cells()
	strip := p.BoundaryCells()
	required := []namedPointer{}
	if a.nStrips > 0 && strip > 0 {
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
	c.Boundary = &scalar3d.Boundary[T]{Strips: slice[T](a.strips, int(a.nStrips)*shots*strip)}
	if backward {
		c.Boundary.SourceAmp = slice[T](a.sourceAmp, int(b.nSteps)*shots*int(b.nSources))
		c.Boundary.U = [2][]T{slice[T](a.u[0], shots*cells), slice[T](a.u[1], shots*cells)}
		c.Boundary.W = slice[T](a.w, shots*cells)
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		scalar3d.Backward(p, f, c)
	} else {
		scalar3d.Forward(p, f, c)
	}
	return nil
}

// boundaryCells3D sets *n to the strip size of a 3D call's problem, which
// needs only the sizes and the PML profiles.
func boundaryCells3D[T scalar3d.Float](a scalarCall, n *int) error {
	if err := checkDims3D(a, false); err != nil {
		return err
	}
	p, _, _ := scalar3DParts[T](a)
	if err := p.Validate(); err != nil {
		return err
	}
	*n = p.BoundaryCells()
	return nil
}
