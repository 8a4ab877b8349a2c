package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/maxwell"
)

//export tw_maxwell_forward
func tw_maxwell_forward(a *C.tw_maxwell_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runMaxwell(a, false) })
}

//export tw_maxwell_backward
func tw_maxwell_backward(a *C.tw_maxwell_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runMaxwell(a, true) })
}

// maxwellCall is tw_maxwell_args in Go types, so the checks can be tested
// (and fuzzed) without cgo.
type maxwellCall struct {
	dtype                                int64
	nShots, ny, nx, stencil              int64
	nSources, nReceivers                 int64
	step0, nSteps, storeInterval         int64
	modelPerShot, nStore, storeFirst     int64
	rdy, rdx                             float64
	ca, cb, cq                           unsafe.Pointer
	ay, by, ayh, byh, ax, bx, axh, bxh   unsafe.Pointer
	ey, mEyX, mEyZ, mHxZ, mHzX           [2]unsafe.Pointer
	hx, hz                               unsafe.Pointer
	sourceIndex, receiverIndex           unsafe.Pointer
	sourceAmp, receiverAmp               unsafe.Pointer
	storeEy, storeCurl, storeDZ, storeDX unsafe.Pointer
	gradCA, gradCB, gradCQ               unsafe.Pointer
}

func maxwellFromC(a *C.tw_maxwell_args) maxwellCall {
	pair := func(p [2]unsafe.Pointer) [2]unsafe.Pointer { return p }
	return maxwellCall{
		dtype: int64(a.dtype), nShots: int64(a.n_shots), ny: int64(a.ny), nx: int64(a.nx), stencil: int64(a.stencil),
		nSources: int64(a.n_sources), nReceivers: int64(a.n_receivers),
		step0: int64(a.step0), nSteps: int64(a.n_steps), storeInterval: int64(a.store_interval),
		modelPerShot: int64(a.model_per_shot), nStore: int64(a.n_store), storeFirst: int64(a.store_first),
		rdy: float64(a.rdy), rdx: float64(a.rdx),
		ca: a.ca, cb: a.cb, cq: a.cq,
		ay: a.ay, by: a.by, ayh: a.ayh, byh: a.byh, ax: a.ax, bx: a.bx, axh: a.axh, bxh: a.bxh,
		ey: pair(a.ey), mEyX: pair(a.m_ey_x), mEyZ: pair(a.m_ey_z), mHxZ: pair(a.m_hx_z), mHzX: pair(a.m_hz_x),
		hx: a.hx, hz: a.hz,
		sourceIndex: unsafe.Pointer(a.source_index), receiverIndex: unsafe.Pointer(a.receiver_index),
		sourceAmp: a.source_amplitudes, receiverAmp: a.receiver_amplitudes,
		storeEy: a.store_ey, storeCurl: a.store_curl, storeDZ: a.store_dz, storeDX: a.store_dx,
		gradCA: a.grad_ca, gradCB: a.grad_cb, gradCQ: a.grad_cq,
	}
}

func runMaxwell(a *C.tw_maxwell_args, backward bool) error {
	if a == nil {
		return errors.New("nil argument struct")
	}
	return runMaxwellCall(maxwellFromC(a), backward)
}

func runMaxwellCall(a maxwellCall, backward bool) error {
	return dispatch(a.dtype,
		func() error { return runMaxwellTyped[float32](a, backward) },
		func() error { return runMaxwellTyped[float64](a, backward) })
}

func runMaxwellTyped[T maxwell.Float](a maxwellCall, backward bool) error {
	if err := checkMaxwellDims(a, backward); err != nil {
		return err
	}
	shots, ny, nx := int(a.nShots), int(a.ny), int(a.nx)
	cells := ny * nx
	models := 1
	if a.modelPerShot != 0 {
		models = shots
	}
	nsteps := int(a.nSteps)
	p := &maxwell.Problem[T]{
		NShots: shots, NY: ny, NX: nx, Stencil: int(a.stencil),
		RDY: a.rdy, RDX: a.rdx,
		CA: slice[T](a.ca, models*cells), CB: slice[T](a.cb, models*cells), CQ: slice[T](a.cq, models*cells),
		ModelPerShot: a.modelPerShot != 0,
		AY:           slice[T](a.ay, ny), BY: slice[T](a.by, ny), AYH: slice[T](a.ayh, ny), BYH: slice[T](a.byh, ny),
		AX: slice[T](a.ax, nx), BX: slice[T](a.bx, nx), AXH: slice[T](a.axh, nx), BXH: slice[T](a.bxh, nx),
		SourceIndex:   slice[int64](a.sourceIndex, shots*int(a.nSources)),
		ReceiverIndex: slice[int64](a.receiverIndex, shots*int(a.nReceivers)),
		NSources:      int(a.nSources), NReceivers: int(a.nReceivers),
		StoreInterval: int(a.storeInterval),
	}
	n := shots * cells
	pair := func(v [2]unsafe.Pointer) [2][]T { return [2][]T{slice[T](v[0], n), slice[T](v[1], n)} }
	f := &maxwell.Fields[T]{
		EY: pair(a.ey), HX: slice[T](a.hx, n), HZ: slice[T](a.hz, n),
		MEyX: pair(a.mEyX), MEyZ: pair(a.mEyZ), MHxZ: pair(a.mHxZ), MHzX: pair(a.mHzX),
	}
	store := func(ptr unsafe.Pointer) []T { return slice[T](ptr, int(a.nStore)*n) }
	c := &maxwell.Chunk[T]{
		Step0: int(a.step0), NSteps: nsteps,
		SourceAmp:   slice[T](a.sourceAmp, nsteps*shots*int(a.nSources)),
		ReceiverAmp: slice[T](a.receiverAmp, nsteps*shots*int(a.nReceivers)),
		StoreEy:     store(a.storeEy), StoreCurl: store(a.storeCurl), StoreDZ: store(a.storeDZ), StoreDX: store(a.storeDX),
		StoreFirst: int(a.storeFirst),
	}
	if backward {
		c.GradCA, c.GradCB, c.GradCQ = slice[T](a.gradCA, n), slice[T](a.gradCB, n), slice[T](a.gradCQ, n)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		maxwell.Backward(p, f, c)
	} else {
		maxwell.Forward(p, f, c)
	}
	return nil
}

// checkMaxwellDims rejects sizes that would overflow or that leave a
// required pointer unset, before any slice is made from a raw pointer.
func checkMaxwellDims(a maxwellCall, backward bool) error {
	sizes := propagatorSizes{a.nShots, a.ny, a.nx, a.nSources, a.nReceivers, a.nSteps, a.nStore}
	if err := checkSizes(sizes, namedSize{"step0", a.step0}, namedSize{"store_first", a.storeFirst}, namedSize{"stencil", a.stencil},
		namedSize{"store_interval", a.storeInterval}); err != nil {
		return err
	}
	required := []namedPointer{{"ca", a.ca}, {"cb", a.cb}, {"cq", a.cq}, {"ay", a.ay}, {"by", a.by}, {"ayh", a.ayh},
		{"byh", a.byh}, {"ax", a.ax}, {"bx", a.bx}, {"axh", a.axh}, {"bxh", a.bxh}, {"hx", a.hx}, {"hz", a.hz}}
	pairs := []struct {
		name string
		p    [2]unsafe.Pointer
	}{{"ey", a.ey}, {"m_ey_x", a.mEyX}, {"m_ey_z", a.mEyZ}, {"m_hx_z", a.mHxZ}, {"m_hz_x", a.mHzX}}
	for _, pr := range pairs {
		required = append(required, namedPointer{pr.name + "[0]", pr.p[0]})
		if backward {
			required = append(required, namedPointer{pr.name + "[1]", pr.p[1]})
		}
	}
	required = append(required, surveyPointers(sizes, unsafe.Pointer(a.sourceIndex), a.sourceAmp,
		unsafe.Pointer(a.receiverIndex), a.receiverAmp)...)
	return checkPointers(required)
}
