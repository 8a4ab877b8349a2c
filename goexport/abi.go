package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/cpu"
	"github.com/torchwave/torchwave/kernels/maxwell"
	"github.com/torchwave/torchwave/kernels/parallel"
	"github.com/torchwave/torchwave/kernels/scalar"
)

// sourceHash is set at build time (-ldflags -X) to a digest of the Go
// sources, so Python can tell a stale library from a current one.
var sourceHash = "unknown"

// errUnsupported marks errors reported as TW_EUNSUPPORTED rather than
// TW_EINVAL: the call is well formed, but this build cannot run it.
var errUnsupported = errors.New("unsupported")

//export tw_abi_version
func tw_abi_version() C.int { return C.TW_ABI_VERSION }

//export tw_source_hash
func tw_source_hash(buf *C.char, n C.int) C.int {
	writeMessage(buf, n, sourceHash)
	return C.TW_OK
}

// simdMask is tw_simd's value: a TW_SIMD_* bit for each kernel package
// built with archsimd vector code.
func simdMask() int {
	m := 0
	if scalar.SIMD {
		m |= C.TW_SIMD_SCALAR
	}
	if maxwell.SIMD {
		m |= C.TW_SIMD_MAXWELL
	}
	return m
}

//export tw_simd
func tw_simd() C.int { return C.int(simdMask()) }

//export tw_set_num_threads
func tw_set_num_threads(n C.int) { parallel.SetThreads(int(n)) }

//export tw_get_num_threads
func tw_get_num_threads() C.int { return C.int(parallel.Threads()) }

// guard runs fn, turning an error or a panic into a status and a message.
// It checks the CPU first: a vector kernel on a CPU without AVX2 would
// kill the host with an illegal instruction instead of panicking.
func guard(errbuf *C.char, errlen C.int, fn func() error) (status C.int) {
	defer func() {
		if r := recover(); r != nil {
			writeMessage(errbuf, errlen, fmt.Sprintf("internal error (recovered panic): %v\n%s", r, debug.Stack()))
			status = C.TW_EPANIC
		}
	}()
	err := cpu.Check()
	if err == nil {
		err = fn()
	} else {
		err = fmt.Errorf("%w: %w", errUnsupported, err)
	}
	if err != nil {
		writeMessage(errbuf, errlen, err.Error())
		if errors.Is(err, errUnsupported) {
			return C.TW_EUNSUPPORTED
		}
		return C.TW_EINVAL
	}
	return C.TW_OK
}

// writeMessage copies msg into the caller's buffer of n bytes, truncated
// and always NUL-terminated.
func writeMessage(buf *C.char, n C.int, msg string) {
	if buf == nil || n <= 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(b[:len(b)-1], msg)
	b[k] = 0
}

// dispatch runs the float32 or the float64 instance of a generic call for
// a TW_FLOAT32 or TW_FLOAT64 dtype code.
func dispatch(dtype int64, f32, f64 func() error) error {
	switch dtype {
	case C.TW_FLOAT32:
		return f32()
	case C.TW_FLOAT64:
		return f64()
	}
	return fmt.Errorf("%w: dtype code %d", errUnsupported, dtype)
}

// slice views n elements at p; a nil pointer or n == 0 gives nil.
func slice[T any](p unsafe.Pointer, n int) []T {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}
