package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar"
)

//export tw_scalar_boundary_forward
func tw_scalar_boundary_forward(a *C.tw_scalar_boundary_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runBoundary(a, false) })
}

//export tw_scalar_boundary_backward
func tw_scalar_boundary_backward(a *C.tw_scalar_boundary_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runBoundary(a, true) })
}

//export tw_scalar_boundary_cells
func tw_scalar_boundary_cells(a *C.tw_scalar_args, cells *C.int64_t, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error {
		if a == nil || cells == nil {
			return errors.New("nil argument")
		}
		n, err := boundaryCells(fromC(a))
		*cells = C.int64_t(n)
		return err
	})
}

// boundaryCall is tw_scalar_boundary_args in Go types.
type boundaryCall struct {
	base      scalarCall
	nStrips   int64
	strips    unsafe.Pointer
	sourceAmp unsafe.Pointer
	u         [2]unsafe.Pointer
	w         unsafe.Pointer
}

func runBoundary(a *C.tw_scalar_boundary_args, backward bool) error {
	if a == nil {
		return errors.New("nil argument struct")
	}
	return runBoundaryCall(boundaryCall{
		base: fromC(&a.base), nStrips: int64(a.n_strips), strips: a.strips,
		sourceAmp: a.source_amplitudes, u: [2]unsafe.Pointer{a.u[0], a.u[1]}, w: a.w,
	}, backward)
}

func runBoundaryCall(a boundaryCall, backward bool) error {
	switch a.base.ndim {
	case 1:
		return dispatch(a.base.dtype,
			func() error { return runBoundary1D[float32](a, backward) },
			func() error { return runBoundary1D[float64](a, backward) })
	case 3:
		return dispatch(a.base.dtype,
			func() error { return runBoundary3D[float32](a, backward) },
			func() error { return runBoundary3D[float64](a, backward) })
	}
	if err := check2D(a.base); err != nil {
		return err
	}
	return dispatch(a.base.dtype,
		func() error { return runBoundaryTyped[float32](a, backward) },
		func() error { return runBoundaryTyped[float64](a, backward) })
}

// boundaryCells is the strip size of a call's problem, which needs only
// the sizes and the PML profiles.
func boundaryCells(a scalarCall) (int, error) {
	var n int
	switch a.ndim {
	case 1:
		err := dispatch(a.dtype,
			func() error { return boundaryCells1D[float32](a, &n) },
			func() error { return boundaryCells1D[float64](a, &n) })
		return n, err
	case 3:
		err := dispatch(a.dtype,
			func() error { return boundaryCells3D[float32](a, &n) },
			func() error { return boundaryCells3D[float64](a, &n) })
		return n, err
	}
	if err := check2D(a); err != nil {
		return 0, err
	}
	if err := checkScalarSizes(a); err != nil {
		return 0, err
	}
	if err := checkPointers(scalarPointers(a, false)); err != nil {
		return 0, err
	}
	err := dispatch(a.dtype,
		func() error { return problemCells[float32](a, &n) },
		func() error { return problemCells[float64](a, &n) })
	return n, err
}

// problemCells sets *n to the strip size of a validated problem.
func problemCells[T scalar.Float](a scalarCall, n *int) error {
	p, _, _ := scalarParts[T](a)
	if err := p.Validate(); err != nil {
		return err
	}
	*n = p.BoundaryCells()
	return nil
}

func runBoundaryTyped[T scalar.Float](a boundaryCall, backward bool) error {
	if err := checkDims(a.base); err != nil {
		return err
	}
	b := a.base
	if err := checkSizes(propagatorSizes{b.nShots, b.ny, b.nx, b.nSources, b.nReceivers, b.nSteps, a.nStrips}); err != nil {
		return err
	}
	p, f, c := scalarParts[T](b)
	if err := p.Validate(); err != nil {
		return err
	}
	shots, cells := int(b.nShots), int(b.ny*b.nx)
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
	c.Boundary = &scalar.Boundary[T]{Strips: slice[T](a.strips, int(a.nStrips)*shots*p.BoundaryCells())}
	if backward {
		c.Boundary.SourceAmp = slice[T](a.sourceAmp, int(b.nSteps)*shots*int(b.nSources))
		c.Boundary.U = [2][]T{slice[T](a.u[0], shots*cells), slice[T](a.u[1], shots*cells)}
		c.Boundary.W = slice[T](a.w, shots*cells)
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		scalar.Backward(p, f, c)
	} else {
		scalar.Forward(p, f, c)
	}
	return nil
}
