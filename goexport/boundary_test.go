package main

import (
	"strings"
	"testing"
	"unsafe"
)

// boundaryBuffers is buffers plus strips for a whole run of nsteps, with
// a PML along the top edge so that the strips are not empty.
func boundaryBuffers(t *testing.T, nsteps int) boundaryCall {
	a := buffers(2, 12, 14, 1, 2, nsteps, 0, false)
	a.store = nil
	for k, idx := range []unsafe.Pointer{a.sourceIndex, a.receiverIndex} {
		s := unsafe.Slice((*int64)(idx), 2*(k+1))
		for i := range s {
			s[i] = int64(5*14 + 5 + i)
		}
	}
	ay := unsafe.Slice((*float64)(a.ay), 12)
	ay[2], ay[3] = 0.5, 0.2
	cells, err := boundaryCells(a)
	if err != nil || cells == 0 {
		t.Fatalf("boundary cells: %d, %v", cells, err)
	}
	n := 2 * 12 * 14
	f := func(k int) unsafe.Pointer { return unsafe.Pointer(&make([]float64, k)[0]) }
	return boundaryCall{
		// Room for a whole store too, so that only the checks decide.
		base: a, nStrips: int64(nsteps + 2), strips: f(max((nsteps+2)*cells, nsteps*12*14) * 2),
		sourceAmp: f(nsteps * 2), u: [2]unsafe.Pointer{f(n), f(n)}, w: f(n),
	}
}

func TestBoundaryArguments(t *testing.T) {
	for _, backward := range []bool{false, true} {
		if err := runBoundaryCall(boundaryBuffers(t, 3), backward); err != nil {
			t.Fatalf("valid call (backward %v) rejected: %v", backward, err)
		}
	}
	cases := map[string]struct {
		edit func(*boundaryCall)
		want string
	}{
		"null strips":    {func(a *boundaryCall) { a.strips = nil }, "strips"},
		"too few strips": {func(a *boundaryCall) { a.nStrips = 4 }, "strips"},
		"negative":       {func(a *boundaryCall) { a.nStrips = -1 }, "out of range"},
		"null u":         {func(a *boundaryCall) { a.u[1] = nil }, "u[1]"},
		"null w":         {func(a *boundaryCall) { a.w = nil }, "w is a null pointer"},
		"null sources":   {func(a *boundaryCall) { a.sourceAmp = nil }, "source_amplitudes"},
		"store too":      {func(a *boundaryCall) { a.base.store, a.base.nStore = a.strips, 3 }, "not both"},
		"dtype":          {func(a *boundaryCall) { a.base.dtype = 3 }, "dtype"},
		"base checks":    {func(a *boundaryCall) { a.base.c = nil }, "c is a null pointer"},
	}
	for name, tc := range cases {
		a := boundaryBuffers(t, 3)
		tc.edit(&a)
		err := runBoundaryCall(a, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	a := boundaryBuffers(t, 3)
	a.base.ay = nil
	if _, err := boundaryCells(a.base); err == nil || !strings.Contains(err.Error(), "ay") {
		t.Errorf("boundary cells without a profile: %v", err)
	}
}
