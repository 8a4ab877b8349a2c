// Command goexport is torchwave's C ABI, built with -buildmode=c-shared.
// Python calls it through ctypes with raw pointers to tensors it owns.
// Every entry point validates its arguments, recovers panics, and returns
// a status code with a message in the caller's buffer; it never exits or
// crashes the host process.
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

	"github.com/torchwave/torchwave/kernels/parallel"
	"github.com/torchwave/torchwave/kernels/scalar"
)

// sourceHash is set at build time (-ldflags -X) to a digest of the Go
// sources, so Python can tell a stale library from a current one.
var sourceHash = "unknown"

var errUnsupported = errors.New("unsupported")

func main() {}

//export tw_abi_version
func tw_abi_version() C.int { return C.TW_ABI_VERSION }

//export tw_source_hash
func tw_source_hash(buf *C.char, n C.int) C.int {
	writeMessage(buf, n, sourceHash)
	return C.TW_OK
}

//export tw_simd
func tw_simd() C.int {
	if scalar.SIMD {
		return 1
	}
	return 0
}

//export tw_set_num_threads
func tw_set_num_threads(n C.int) { parallel.SetThreads(int(n)) }

//export tw_get_num_threads
func tw_get_num_threads() C.int { return C.int(parallel.Threads()) }

//export tw_scalar_forward
func tw_scalar_forward(a *C.tw_scalar_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runScalar(a, false) })
}

//export tw_scalar_backward
func tw_scalar_backward(a *C.tw_scalar_args, errbuf *C.char, errlen C.int) (status C.int) {
	return guard(errbuf, errlen, func() error { return runScalar(a, true) })
}

// guard runs fn, turning an error or a panic into a status and a message.
func guard(errbuf *C.char, errlen C.int, fn func() error) (status C.int) {
	defer func() {
		if r := recover(); r != nil {
			writeMessage(errbuf, errlen, fmt.Sprintf("internal error (recovered panic): %v\n%s", r, debug.Stack()))
			status = C.TW_EPANIC
		}
	}()
	if err := fn(); err != nil {
		writeMessage(errbuf, errlen, err.Error())
		if errors.Is(err, errUnsupported) {
			return C.TW_EUNSUPPORTED
		}
		return C.TW_EINVAL
	}
	return C.TW_OK
}

func writeMessage(buf *C.char, n C.int, msg string) {
	if buf == nil || n <= 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(b[:len(b)-1], msg)
	b[k] = 0
}

func runScalar(a *C.tw_scalar_args, backward bool) error {
	if a == nil {
		return errors.New("nil argument struct")
	}
	switch a.dtype {
	case C.TW_FLOAT32:
		return runScalarTyped[float32](a, backward)
	case C.TW_FLOAT64:
		return runScalarTyped[float64](a, backward)
	}
	return fmt.Errorf("%w: dtype code %d", errUnsupported, int64(a.dtype))
}

func runScalarTyped[T scalar.Float](a *C.tw_scalar_args, backward bool) error {
	if err := checkDims(a); err != nil {
		return err
	}
	shots, ny, nx := int(a.n_shots), int(a.ny), int(a.nx)
	cells := ny * nx
	models := 1
	if a.model_per_shot != 0 {
		models = shots
	}
	nsteps := int(a.n_steps)
	p := &scalar.Problem[T]{
		NShots: shots, NY: ny, NX: nx, Accuracy: int(a.accuracy),
		RDY: float64(a.rdy), RDX: float64(a.rdx),
		C:            slice[T](a.c, models*cells),
		ModelPerShot: a.model_per_shot != 0,
		AY:           slice[T](a.ay, ny), BY: slice[T](a.by, ny), DBY: slice[T](a.dby, ny),
		AX: slice[T](a.ax, nx), BX: slice[T](a.bx, nx), DBX: slice[T](a.dbx, nx),
		SourceIndex:   slice[int64](unsafe.Pointer(a.source_index), shots*int(a.n_sources)),
		ReceiverIndex: slice[int64](unsafe.Pointer(a.receiver_index), shots*int(a.n_receivers)),
		NSources:      int(a.n_sources), NReceivers: int(a.n_receivers),
		StoreInterval: int(a.store_interval),
	}
	n := shots * cells
	pair := func(v [2]unsafe.Pointer) [2][]T { return [2][]T{slice[T](v[0], n), slice[T](v[1], n)} }
	f := &scalar.Fields[T]{
		U: pair(a.u), PsiY: pair(a.psiy), PsiX: pair(a.psix),
		ZetaY: pair(a.zetay), ZetaX: pair(a.zetax),
	}
	c := &scalar.Chunk[T]{
		Step0: int(a.step0), NSteps: nsteps,
		SourceAmp:   slice[T](a.source_amplitudes, nsteps*shots*int(a.n_sources)),
		ReceiverAmp: slice[T](a.receiver_amplitudes, nsteps*shots*int(a.n_receivers)),
		Store:       slice[T](a.store, int(a.n_store)*n),
		GradC:       slice[T](a.grad_c, n),
	}
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

// checkDims rejects sizes that would overflow or that leave a required
// pointer unset, before any slice is made from a raw pointer.
func checkDims(a *C.tw_scalar_args) error {
	const limit = 1 << 40
	dims := map[string]C.int64_t{"n_shots": a.n_shots, "ny": a.ny, "nx": a.nx, "n_sources": a.n_sources,
		"n_receivers": a.n_receivers, "n_steps": a.n_steps, "step0": a.step0, "n_store": a.n_store}
	for name, v := range dims {
		if v < 0 || v > limit {
			return fmt.Errorf("%s = %d is out of range", name, int64(v))
		}
	}
	if a.n_shots < 1 || a.ny < 1 || a.nx < 1 {
		return fmt.Errorf("empty grid: n_shots %d, ny %d, nx %d", int64(a.n_shots), int64(a.ny), int64(a.nx))
	}
	if float64(a.n_shots)*float64(a.ny)*float64(a.nx)*float64(max(a.n_steps, 1)) > limit*limit {
		return errors.New("problem size overflows")
	}
	required := map[string]unsafe.Pointer{"c": a.c, "ay": a.ay, "by": a.by, "dby": a.dby, "ax": a.ax, "bx": a.bx, "dbx": a.dbx}
	for k := 0; k < 2; k++ {
		for name, v := range map[string]unsafe.Pointer{"u": a.u[k], "psiy": a.psiy[k], "psix": a.psix[k], "zetay": a.zetay[k], "zetax": a.zetax[k]} {
			required[fmt.Sprintf("%s[%d]", name, k)] = v
		}
	}
	if a.n_sources > 0 && a.n_steps > 0 {
		required["source_index"] = unsafe.Pointer(a.source_index)
		required["source_amplitudes"] = a.source_amplitudes
	}
	if a.n_receivers > 0 && a.n_steps > 0 {
		required["receiver_index"] = unsafe.Pointer(a.receiver_index)
		required["receiver_amplitudes"] = a.receiver_amplitudes
	}
	if a.n_store > 0 {
		required["store"] = a.store
	}
	for name, v := range required {
		if v == nil {
			return fmt.Errorf("%s is a null pointer", name)
		}
	}
	return nil
}

// slice views n elements at p; a nil pointer or n == 0 gives nil.
func slice[T any](p unsafe.Pointer, n int) []T {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}
