package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/acoustic"
)

//export tw_acoustic_forward
func tw_acoustic_forward(a *C.tw_acoustic_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runAcoustic(a, false) })
}

//export tw_acoustic_backward
func tw_acoustic_backward(a *C.tw_acoustic_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runAcoustic(a, true) })
}

// acousticCall is tw_acoustic_args in Go types, so the checks can be
// tested (and fuzzed) without cgo. Per-axis arrays are indexed by the 3D
// axis (0 z, 1 y, 2 x), survey arrays by [p, v_z, v_y, v_x].
type acousticCall struct {
	dtype, ndim                  int64
	nShots                       int64
	n                            [3]int64 // nz, ny, nx
	accuracy                     int64
	step0, nSteps, storeInterval int64
	kPerShot, bPerShot           int64
	nStore, storeFirst           int64
	dt                           float64
	rd                           [3]float64
	k                            unsafe.Pointer
	b, a, bp, ah, bh             [3]unsafe.Pointer
	p                            unsafe.Pointer
	v, phi, psi                  [3]unsafe.Pointer
	nSources, nReceivers         [4]int64
	sourceIndex, receiverIndex   [4]unsafe.Pointer
	sourceAmp, receiverAmp       [4]unsafe.Pointer
	storeK                       unsafe.Pointer
	storeB                       [3]unsafe.Pointer
	gradK                        unsafe.Pointer
	gradB                        [3]unsafe.Pointer
}

func acousticFromC(a *C.tw_acoustic_args) acousticCall {
	c := acousticCall{
		dtype: int64(a.dtype), ndim: int64(a.ndim), nShots: int64(a.n_shots),
		n:        [3]int64{int64(a.nz), int64(a.ny), int64(a.nx)},
		accuracy: int64(a.accuracy),
		step0:    int64(a.step0), nSteps: int64(a.n_steps), storeInterval: int64(a.store_interval),
		kPerShot: int64(a.k_per_shot), bPerShot: int64(a.b_per_shot),
		nStore: int64(a.n_store), storeFirst: int64(a.store_first),
		dt: float64(a.dt),
		k:  a.k, p: a.p, storeK: a.store_k, gradK: a.grad_k,
	}
	for d := range 3 {
		c.rd[d] = float64(a.rd[d])
		c.b[d], c.a[d], c.bp[d], c.ah[d], c.bh[d] = a.b[d], a.a[d], a.bp[d], a.ah[d], a.bh[d]
		c.v[d], c.phi[d], c.psi[d] = a.v[d], a.phi[d], a.psi[d]
		c.storeB[d], c.gradB[d] = a.store_b[d], a.grad_b[d]
	}
	for f := range 4 {
		c.nSources[f], c.nReceivers[f] = int64(a.n_sources[f]), int64(a.n_receivers[f])
		c.sourceIndex[f], c.receiverIndex[f] = unsafe.Pointer(a.source_index[f]), unsafe.Pointer(a.receiver_index[f])
		c.sourceAmp[f], c.receiverAmp[f] = a.source_amplitudes[f], a.receiver_amplitudes[f]
	}
	return c
}

func runAcoustic(a *C.tw_acoustic_args, backward bool) error {
	if a == nil {
		return errors.New("nil argument struct")
	}
	return runAcousticCall(acousticFromC(a), backward)
}

func runAcousticCall(a acousticCall, backward bool) error {
	return dispatch(a.dtype,
		func() error { return runAcousticTyped[float32](a, backward) },
		func() error { return runAcousticTyped[float64](a, backward) })
}

// acousticAxes are the 3D axes a call of ndim dimensions models.
func acousticAxes(ndim int64) []int {
	return []int{0, 1, 2}[3-ndim:]
}

func runAcousticTyped[T acoustic.Float](a acousticCall, backward bool) error {
	if err := checkAcousticDims(a); err != nil {
		return err
	}
	shots := int(a.nShots)
	cells := int(a.n[0] * a.n[1] * a.n[2])
	all := shots * cells
	models := func(perShot int64) int {
		if perShot != 0 {
			return all
		}
		return cells
	}
	nsteps := int(a.nSteps)
	p := &acoustic.Problem[T]{
		NShots: shots, NDim: int(a.ndim), Accuracy: int(a.accuracy),
		N:  [3]int{int(a.n[0]), int(a.n[1]), int(a.n[2])},
		RD: a.rd, DT: a.dt,
		K:        slice[T](a.k, models(a.kPerShot)),
		KPerShot: a.kPerShot != 0, BPerShot: a.bPerShot != 0,
		StoreInterval: int(a.storeInterval),
	}
	f := &acoustic.Fields[T]{P: slice[T](a.p, all)}
	store := func(ptr unsafe.Pointer) []T { return slice[T](ptr, int(a.nStore)*all) }
	c := &acoustic.Chunk[T]{Step0: int(a.step0), NSteps: nsteps, StoreK: store(a.storeK), StoreFirst: int(a.storeFirst)}
	if backward {
		c.GradK = slice[T](a.gradK, all)
	}
	for _, d := range acousticAxes(a.ndim) {
		n := int(a.n[d])
		p.B[d] = slice[T](a.b[d], models(a.bPerShot))
		p.A[d], p.Bp[d], p.AH[d], p.BH[d] = slice[T](a.a[d], n), slice[T](a.bp[d], n), slice[T](a.ah[d], n), slice[T](a.bh[d], n)
		f.V[d], f.Phi[d], f.Psi[d] = slice[T](a.v[d], all), slice[T](a.phi[d], all), slice[T](a.psi[d], all)
		c.StoreB[d] = store(a.storeB[d])
		if backward {
			c.GradB[d] = slice[T](a.gradB[d], all)
		}
	}
	for _, f := range acousticFields(a.ndim) {
		k := f.kernel
		ns, nr := int(a.nSources[f.abi]), int(a.nReceivers[f.abi])
		p.NSources[k], p.NReceivers[k] = ns, nr
		p.SourceIndex[k] = slice[int64](a.sourceIndex[f.abi], shots*ns)
		p.ReceiverIndex[k] = slice[int64](a.receiverIndex[f.abi], shots*nr)
		c.SourceAmp[k] = slice[T](a.sourceAmp[f.abi], nsteps*shots*ns)
		c.ReceiverAmp[k] = slice[T](a.receiverAmp[f.abi], nsteps*shots*nr)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := p.ValidateChunk(f, c, backward); err != nil {
		return err
	}
	if backward {
		acoustic.Backward(p, f, c)
	} else {
		acoustic.Forward(p, f, c)
	}
	return nil
}

// acousticField pairs a survey field's index in tw_acoustic_args (0
// pressure, 1 + axis the velocity along that 3D axis) with the kernel's
// (0 pressure, then the modelled axes in order).
type acousticField struct {
	abi, kernel int
	name        string
}

func acousticFields(ndim int64) []acousticField {
	out := []acousticField{{0, 0, "p"}}
	for k, d := range acousticAxes(ndim) {
		out = append(out, acousticField{1 + d, 1 + k, "v" + string("zyx"[d])})
	}
	return out
}

// checkAcousticDims rejects sizes that would overflow, survey counts of a
// field the grid lacks, and required pointers left unset, before any
// slice is made from a raw pointer.
func checkAcousticDims(a acousticCall) error {
	if a.ndim < 1 || a.ndim > 3 {
		return fmt.Errorf("ndim must be 1, 2 or 3, got %d", a.ndim)
	}
	extra := []namedSize{{"nz", a.n[0]}, {"step0", a.step0}, {"store_first", a.storeFirst},
		{"accuracy", a.accuracy}, {"store_interval", a.storeInterval}}
	var maxSrc, maxRec int64
	for i := range 4 {
		extra = append(extra, namedSize{fmt.Sprintf("n_sources[%d]", i), a.nSources[i]},
			namedSize{fmt.Sprintf("n_receivers[%d]", i), a.nReceivers[i]})
		maxSrc, maxRec = max(maxSrc, a.nSources[i]), max(maxRec, a.nReceivers[i])
	}
	for _, s := range append([]namedSize{{"n_shots", a.nShots}, {"ny", a.n[1]}, {"nx", a.n[2]}}, extra...) {
		if s.v < 0 || s.v > sizeLimit {
			return fmt.Errorf("%s = %d is out of range", s.name, s.v)
		}
	}
	if a.n[0] < 1 || a.n[1] < 1 {
		return fmt.Errorf("empty grid: nz %d, ny %d", a.n[0], a.n[1])
	}
	if float64(a.n[0])*float64(a.n[1]) > sizeLimit {
		return errors.New("problem size overflows")
	}
	sizes := propagatorSizes{a.nShots, a.n[0] * a.n[1], a.n[2], maxSrc, maxRec, a.nSteps, a.nStore}
	if err := checkSizes(sizes, extra...); err != nil {
		return err
	}
	modelled := [4]bool{true}
	for _, d := range acousticAxes(a.ndim) {
		modelled[1+d] = true
	}
	for i := range 4 {
		if !modelled[i] && (a.nSources[i] != 0 || a.nReceivers[i] != 0) {
			return fmt.Errorf("field %d (v%c) has sources or receivers, but a %dD grid lacks its axis", i, "zyx"[i-1], a.ndim)
		}
	}
	required := []namedPointer{{"k", a.k}, {"p", a.p}}
	for _, d := range acousticAxes(a.ndim) {
		for _, q := range []struct {
			name string
			p    unsafe.Pointer
		}{{"b", a.b[d]}, {"a", a.a[d]}, {"bp", a.bp[d]}, {"ah", a.ah[d]}, {"bh", a.bh[d]},
			{"v", a.v[d]}, {"phi", a.phi[d]}, {"psi", a.psi[d]}} {
			required = append(required, namedPointer{fmt.Sprintf("%s[%d]", q.name, d), q.p})
		}
	}
	for _, f := range acousticFields(a.ndim) {
		s := propagatorSizes{nSources: a.nSources[f.abi], nReceivers: a.nReceivers[f.abi], nSteps: a.nSteps}
		for _, r := range surveyPointers(s, a.sourceIndex[f.abi], a.sourceAmp[f.abi], a.receiverIndex[f.abi], a.receiverAmp[f.abi]) {
			required = append(required, namedPointer{fmt.Sprintf("%s[%d]", r.name, f.abi), r.p})
		}
	}
	return checkPointers(required)
}
