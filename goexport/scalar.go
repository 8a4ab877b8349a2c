package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar"
)

//export tw_scalar_forward
func tw_scalar_forward(a *C.tw_scalar_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runScalar(a, false) })
}

//export tw_scalar_backward
func tw_scalar_backward(a *C.tw_scalar_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runScalar(a, true) })
}

// scalarCall is tw_scalar_args in Go types, so the checks below can be
// exercised (and fuzzed) without cgo.
type scalarCall struct {
	dtype                                int64
	nShots, ny, nx, accuracy             int64
	nSources, nReceivers                 int64
	step0, nSteps, storeInterval         int64
	modelPerShot, nStore, storeFirst     int64
	rdy, rdx                             float64
	c, ay, by, dby, ax, bx, dbx          unsafe.Pointer
	u, psiy, psix, zetay, zetax          [2]unsafe.Pointer
	sourceIndex, receiverIndex           unsafe.Pointer
	sourceAmp, receiverAmp, store, gradC unsafe.Pointer
	// ndim selects the kernel package: 1 (scalar1d), 2 (scalar) or 3
	// (scalar3d). The z members are used in 3D only.
	ndim, nz    int64
	rdz         float64
	az, bz, dbz unsafe.Pointer
	psiz, zetaz [2]unsafe.Pointer
}

func fromC(a *C.tw_scalar_args) scalarCall {
	pair := func(p [2]unsafe.Pointer) [2]unsafe.Pointer { return p }
	return scalarCall{
		dtype: int64(a.dtype), nShots: int64(a.n_shots), ny: int64(a.ny), nx: int64(a.nx), accuracy: int64(a.accuracy),
		nSources: int64(a.n_sources), nReceivers: int64(a.n_receivers),
		step0: int64(a.step0), nSteps: int64(a.n_steps), storeInterval: int64(a.store_interval),
		modelPerShot: int64(a.model_per_shot), nStore: int64(a.n_store), storeFirst: int64(a.store_first),
		rdy: float64(a.rdy), rdx: float64(a.rdx),
		c: a.c, ay: a.ay, by: a.by, dby: a.dby, ax: a.ax, bx: a.bx, dbx: a.dbx,
		u: pair(a.u), psiy: pair(a.psiy), psix: pair(a.psix), zetay: pair(a.zetay), zetax: pair(a.zetax),
		sourceIndex: unsafe.Pointer(a.source_index), receiverIndex: unsafe.Pointer(a.receiver_index),
		sourceAmp: a.source_amplitudes, receiverAmp: a.receiver_amplitudes, store: a.store, gradC: a.grad_c,
		ndim: int64(a.ndim), nz: int64(a.nz), rdz: float64(a.rdz), az: a.az, bz: a.bz, dbz: a.dbz,
		psiz: pair(a.psiz), zetaz: pair(a.zetaz),
	}
}

func runScalar(a *C.tw_scalar_args, backward bool) error {
	if a == nil {
		return errors.New("nil argument struct")
	}
	return runScalarCall(fromC(a), backward)
}

func runScalarCall(a scalarCall, backward bool) error {
	switch a.ndim {
	case 1:
		return dispatch(a.dtype,
			func() error { return runScalar1D[float32](a, backward) },
			func() error { return runScalar1D[float64](a, backward) })
	case 3:
		return dispatch(a.dtype,
			func() error { return runScalar3D[float32](a, backward) },
			func() error { return runScalar3D[float64](a, backward) })
	}
	if err := check2D(a); err != nil {
		return err
	}
	return dispatch(a.dtype,
		func() error { return runScalarTyped[float32](a, backward) },
		func() error { return runScalarTyped[float64](a, backward) })
}

// check2D checks the dimension fields of a 2D call.
func check2D(a scalarCall) error {
	if a.ndim != 2 {
		return fmt.Errorf("ndim must be 1, 2 or 3, got %d", a.ndim)
	}
	if a.nz != 1 {
		return fmt.Errorf("a 2D call needs nz = 1, got %d", a.nz)
	}
	return nil
}

func runScalarTyped[T scalar.Float](a scalarCall, backward bool) error {
	if err := checkDims(a); err != nil {
		return err
	}
	p, f, c := scalarParts[T](a)
	if err := p.Validate(); err != nil {
		return err
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

// scalarParts views the buffers of a call whose sizes checkScalarSizes
// accepted; a null pointer becomes a nil slice.
func scalarParts[T scalar.Float](a scalarCall) (*scalar.Problem[T], *scalar.Fields[T], *scalar.Chunk[T]) {
	shots, ny, nx := int(a.nShots), int(a.ny), int(a.nx)
	cells := ny * nx
	models := 1
	if a.modelPerShot != 0 {
		models = shots
	}
	nsteps := int(a.nSteps)
	p := &scalar.Problem[T]{
		NShots: shots, NY: ny, NX: nx, Accuracy: int(a.accuracy),
		RDY: a.rdy, RDX: a.rdx,
		C:            slice[T](a.c, models*cells),
		ModelPerShot: a.modelPerShot != 0,
		AY:           slice[T](a.ay, ny), BY: slice[T](a.by, ny), DBY: slice[T](a.dby, ny),
		AX: slice[T](a.ax, nx), BX: slice[T](a.bx, nx), DBX: slice[T](a.dbx, nx),
		SourceIndex:   slice[int64](a.sourceIndex, shots*int(a.nSources)),
		ReceiverIndex: slice[int64](a.receiverIndex, shots*int(a.nReceivers)),
		NSources:      int(a.nSources), NReceivers: int(a.nReceivers),
		StoreInterval: int(a.storeInterval),
	}
	f := fieldsAt[T](shots*cells, a.u, a.psiy, a.psix, a.zetay, a.zetax)
	c := &scalar.Chunk[T]{
		Step0: int(a.step0), NSteps: nsteps,
		SourceAmp:   slice[T](a.sourceAmp, nsteps*shots*int(a.nSources)),
		ReceiverAmp: slice[T](a.receiverAmp, nsteps*shots*int(a.nReceivers)),
		Store:       slice[T](a.store, int(a.nStore)*shots*cells),
		StoreFirst:  int(a.storeFirst),
		GradC:       slice[T](a.gradC, shots*cells),
	}
	return p, f, c
}

// fieldsAt views the field pairs u, psiy, psix, zetay, zetax of n elements.
func fieldsAt[T scalar.Float](n int, u, psiy, psix, zetay, zetax [2]unsafe.Pointer) *scalar.Fields[T] {
	pair := func(v [2]unsafe.Pointer) [2][]T { return [2][]T{slice[T](v[0], n), slice[T](v[1], n)} }
	return &scalar.Fields[T]{U: pair(u), PsiY: pair(psiy), PsiX: pair(psix), ZetaY: pair(zetay), ZetaX: pair(zetax)}
}

// checkDims rejects sizes that would overflow or that leave a required
// pointer unset, before any slice is made from a raw pointer.
func checkDims(a scalarCall) error {
	if err := checkScalarSizes(a); err != nil {
		return err
	}
	return checkPointers(scalarPointers(a, true))
}

func (a scalarCall) sizes() propagatorSizes {
	return propagatorSizes{a.nShots, a.ny, a.nx, a.nSources, a.nReceivers, a.nSteps, a.nStore}
}

func checkScalarSizes(a scalarCall) error {
	return checkSizes(a.sizes(), namedSize{"step0", a.step0}, namedSize{"store_first", a.storeFirst},
		namedSize{"accuracy", a.accuracy}, namedSize{"store_interval", a.storeInterval})
}

// scalarPointers lists the pointers a call needs. Without state, the
// wavefield, the amplitudes and grad_c are not used and may be null.
func scalarPointers(a scalarCall, state bool) []namedPointer {
	required := []namedPointer{{"c", a.c}, {"ay", a.ay}, {"by", a.by}, {"dby", a.dby}, {"ax", a.ax}, {"bx", a.bx}, {"dbx", a.dbx}}
	sizes := a.sizes()
	if state {
		required = append(required, fieldPointers("", a.u, a.psiy, a.psix, a.zetay, a.zetax)...)
	} else {
		sizes.nSteps = 0 // no amplitudes needed
	}
	required = append(required, surveyPointers(sizes, a.sourceIndex, a.sourceAmp, a.receiverIndex, a.receiverAmp)...)
	if a.nStore > 0 {
		required = append(required, namedPointer{"store", a.store})
	}
	return required
}

// fieldPointers names the buffers of the field pairs, with suffix after
// each field's name.
func fieldPointers(suffix string, u, psiy, psix, zetay, zetax [2]unsafe.Pointer) []namedPointer {
	var required []namedPointer
	for k := 0; k < 2; k++ {
		name := func(field string) string { return fmt.Sprintf("%s%s[%d]", field, suffix, k) }
		required = append(required, namedPointer{name("u"), u[k]},
			namedPointer{name("psiy"), psiy[k]}, namedPointer{name("psix"), psix[k]},
			namedPointer{name("zetay"), zetay[k]}, namedPointer{name("zetax"), zetax[k]})
	}
	return required
}
