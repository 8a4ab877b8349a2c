package main

import (
	"errors"
	"fmt"
	"unsafe"
)

// sizeLimit bounds every size and element count a call may name, far
// above any real problem and far below where int arithmetic overflows.
const sizeLimit = 1 << 40

type namedSize struct {
	name string
	v    int64
}

type namedPointer struct {
	name string
	p    unsafe.Pointer
}

// propagatorSizes holds the sizes every propagator call shares.
type propagatorSizes struct {
	nShots, ny, nx, nSources, nReceivers, nSteps, nStore int64
}

// checkSizes rejects negative or huge sizes, an empty grid, and buffer
// sizes whose products would overflow, before any slice is made from a
// raw pointer. extra names the call's other sizes.
func checkSizes(s propagatorSizes, extra ...namedSize) error {
	dims := append([]namedSize{{"n_shots", s.nShots}, {"ny", s.ny}, {"nx", s.nx}, {"n_sources", s.nSources},
		{"n_receivers", s.nReceivers}, {"n_steps", s.nSteps}, {"n_store", s.nStore}}, extra...)
	for _, d := range dims {
		if d.v < 0 || d.v > sizeLimit {
			return fmt.Errorf("%s = %d is out of range", d.name, d.v)
		}
	}
	if s.nShots < 1 || s.ny < 1 || s.nx < 1 {
		return fmt.Errorf("empty grid: n_shots %d, ny %d, nx %d", s.nShots, s.ny, s.nx)
	}
	total := float64(s.nShots) * float64(s.ny) * float64(s.nx)
	for _, m := range []int64{s.nSources, s.nReceivers, s.nStore, s.nSteps} {
		if total*float64(max(m, 1)) > sizeLimit {
			return errors.New("problem size overflows")
		}
	}
	if float64(s.nSteps)*float64(s.nShots)*float64(max(s.nSources, s.nReceivers)) > sizeLimit {
		return errors.New("problem size overflows")
	}
	return nil
}

// surveyPointers lists the source and receiver buffers a call with these
// sizes must have.
func surveyPointers(s propagatorSizes, sourceIndex, sourceAmp, receiverIndex, receiverAmp unsafe.Pointer) []namedPointer {
	var required []namedPointer
	if s.nSources > 0 {
		required = append(required, namedPointer{"source_index", sourceIndex})
		if s.nSteps > 0 {
			required = append(required, namedPointer{"source_amplitudes", sourceAmp})
		}
	}
	if s.nReceivers > 0 {
		required = append(required, namedPointer{"receiver_index", receiverIndex})
		if s.nSteps > 0 {
			required = append(required, namedPointer{"receiver_amplitudes", receiverAmp})
		}
	}
	return required
}

// checkPointers names the first required pointer that is null.
func checkPointers(required []namedPointer) error {
	for _, r := range required {
		if r.p == nil {
			return fmt.Errorf("%s is a null pointer", r.name)
		}
	}
	return nil
}
