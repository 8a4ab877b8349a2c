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

//export tw_scalar_born_forward
func tw_scalar_born_forward(a *C.tw_scalar_born_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runBorn(a, false) })
}

//export tw_scalar_born_backward
func tw_scalar_born_backward(a *C.tw_scalar_born_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runBorn(a, true) })
}

// bornCall is tw_scalar_born_args in Go types.
type bornCall struct {
	bg                                    scalarCall
	dc                                    unsafe.Pointer
	uSc, psiySc, psixSc, zetaySc, zetaxSc [2]unsafe.Pointer
	nReceiversSc                          int64
	receiverIndexSc                       unsafe.Pointer
	sourceAmpSc, receiverAmpSc            unsafe.Pointer
	storeSc, gradDC                       unsafe.Pointer
	adjointBg                             int64
	couplingInterval                      int64
	psizSc, zetazSc                       [2]unsafe.Pointer
}

func bornFromC(a *C.tw_scalar_born_args) bornCall {
	pair := func(p [2]unsafe.Pointer) [2]unsafe.Pointer { return p }
	return bornCall{
		bg: fromC(&a.bg), dc: a.dc,
		uSc: pair(a.u_sc), psiySc: pair(a.psiy_sc), psixSc: pair(a.psix_sc), zetaySc: pair(a.zetay_sc), zetaxSc: pair(a.zetax_sc),
		nReceiversSc: int64(a.n_receivers_sc), receiverIndexSc: unsafe.Pointer(a.receiver_index_sc),
		sourceAmpSc: a.source_amplitudes_sc, receiverAmpSc: a.receiver_amplitudes_sc,
		storeSc: a.store_sc, gradDC: a.grad_dc, adjointBg: int64(a.adjoint_bg),
		couplingInterval: int64(a.coupling_interval),
		psizSc:           pair(a.psiz_sc), zetazSc: pair(a.zetaz_sc),
	}
}

func runBorn(a *C.tw_scalar_born_args, backward bool) error {
	if a == nil {
		return errors.New("nil argument struct")
	}
	return runBornCall(bornFromC(a), backward)
}

func runBornCall(a bornCall, backward bool) error {
	switch a.bg.ndim {
	case 1:
		return dispatch(a.bg.dtype,
			func() error { return runBorn1D[float32](a, backward) },
			func() error { return runBorn1D[float64](a, backward) })
	case 3:
		return dispatch(a.bg.dtype,
			func() error { return runBorn3D[float32](a, backward) },
			func() error { return runBorn3D[float64](a, backward) })
	}
	if err := check2D(a.bg); err != nil {
		return err
	}
	return dispatch(a.bg.dtype,
		func() error { return runBornTyped[float32](a, backward) },
		func() error { return runBornTyped[float64](a, backward) })
}

func runBornTyped[T scalar.Float](a bornCall, backward bool) error {
	// The background state is only used by the forward pass or the
	// background adjoint.
	state := !backward || a.adjointBg != 0
	if err := checkBornDims(a, state); err != nil {
		return err
	}
	bg, f, c := scalarParts[T](a.bg)
	shots, n := bg.NShots, bg.NShots*bg.NY*bg.NX
	nsteps := c.NSteps
	models := 1
	if bg.ModelPerShot {
		models = shots
	}
	p := &scalar.BornProblem[T]{
		Problem:                bg,
		DC:                     slice[T](a.dc, models*bg.NY*bg.NX),
		ScatteredReceiverIndex: slice[int64](a.receiverIndexSc, shots*int(a.nReceiversSc)),
		NScatteredReceivers:    int(a.nReceiversSc),
		CouplingInterval:       int(a.couplingInterval),
	}
	fsc := fieldsAt[T](n, a.uSc, a.psiySc, a.psixSc, a.zetaySc, a.zetaxSc)
	bc := &scalar.BornChunk[T]{
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
	if err := p.ValidateChunk(f, fsc, bc, backward); err != nil {
		return err
	}
	if backward {
		scalar.BornBackward(p, f, fsc, bc)
	} else {
		scalar.BornForward(p, f, fsc, bc)
	}
	return nil
}

// checkBornDims is checkDims for a Born call; without state, the
// background's fields and amplitudes may be null.
func checkBornDims(a bornCall, state bool) error {
	if err := checkBornSizes(a); err != nil {
		return err
	}
	required := append(scalarPointers(a.bg, state), namedPointer{"dc", a.dc})
	required = append(required, fieldPointers("_sc", a.uSc, a.psiySc, a.psixSc, a.zetaySc, a.zetaxSc)...)
	return checkPointers(append(required, bornSurveyPointers(a)...))
}

// checkBornSizes is checkScalarSizes for a Born call: the background's
// sizes and the scattered receivers'.
func checkBornSizes(a bornCall) error {
	if err := checkScalarSizes(a.bg); err != nil {
		return err
	}
	s := a.bg.sizes()
	if a.couplingInterval < 0 || a.couplingInterval > sizeLimit {
		return fmt.Errorf("coupling_interval = %d is out of range", a.couplingInterval)
	}
	if a.nReceiversSc < 0 || a.nReceiversSc > sizeLimit {
		return fmt.Errorf("n_receivers_sc = %d is out of range", a.nReceiversSc)
	}
	cells := float64(s.nShots) * float64(s.ny) * float64(s.nx)
	if cells*float64(max(a.nReceiversSc, 1)) > sizeLimit ||
		float64(s.nSteps)*float64(s.nShots)*float64(a.nReceiversSc) > sizeLimit {
		return errors.New("problem size overflows")
	}
	return nil
}

// bornSurveyPointers lists the scattered sources' and receivers' buffers
// a Born call must have.
func bornSurveyPointers(a bornCall) []namedPointer {
	var required []namedPointer
	s := a.bg.sizes()
	if s.nSources > 0 && s.nSteps > 0 {
		required = append(required, namedPointer{"source_amplitudes_sc", a.sourceAmpSc})
	}
	if a.nReceiversSc > 0 {
		required = append(required, namedPointer{"receiver_index_sc", a.receiverIndexSc})
		if s.nSteps > 0 {
			required = append(required, namedPointer{"receiver_amplitudes_sc", a.receiverAmpSc})
		}
	}
	return required
}
