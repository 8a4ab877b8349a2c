package main

import (
	"errors"
	"fmt"
	"testing"
)

func TestDispatch(t *testing.T) {
	var ran string
	call := func(dtype int64) error {
		ran = ""
		return dispatch(dtype,
			func() error { ran = "float32"; return nil },
			func() error { ran = "float64"; return nil })
	}
	for dtype, want := range map[int64]string{0: "float32", 1: "float64"} {
		if err := call(dtype); err != nil || ran != want {
			t.Errorf("dtype %d: ran %q, err %v; want %q", dtype, ran, err, want)
		}
	}
	for _, dtype := range []int64{-1, 2, 5} {
		if err := call(dtype); !errors.Is(err, errUnsupported) || ran != "" {
			t.Errorf("dtype %d: ran %q, err %v; want errUnsupported", dtype, ran, err)
		}
	}
}

// guard's status codes; a panic must come back as TW_EPANIC, not cross.
func TestGuard(t *testing.T) {
	for name, tc := range map[string]struct {
		fn   func() error
		want int
	}{
		"ok":          {func() error { return nil }, 0},
		"invalid":     {func() error { return errors.New("bad") }, 1},
		"panic":       {func() error { panic("boom") }, 2},
		"unsupported": {func() error { return fmt.Errorf("%w: dtype", errUnsupported) }, 3},
	} {
		if got := int(guard(nil, 0, tc.fn)); got != tc.want {
			t.Errorf("%s: status %d, want %d", name, got, tc.want)
		}
	}
}
