package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/codec"
)

//export tw_int8_encode
func tw_int8_encode(dtype, rows, n, nbytes C.int64_t, src, dst unsafe.Pointer, errbuf *C.char, errlen C.int) C.int {
	return guard(errbuf, errlen, func() error {
		return runInt8(int64(dtype), int64(rows), int64(n), int64(nbytes), src, dst, true)
	})
}

//export tw_int8_decode
func tw_int8_decode(dtype, rows, n, nbytes C.int64_t, src, dst unsafe.Pointer, errbuf *C.char, errlen C.int) C.int {
	return guard(errbuf, errlen, func() error {
		return runInt8(int64(dtype), int64(rows), int64(n), int64(nbytes), src, dst, false)
	})
}

// runInt8 encodes (src values -> dst bytes) or decodes (src bytes -> dst
// values) rows of n values; nbytes is the caller's size of the encoded
// buffer, checked against the layout before any memory is touched.
func runInt8(dtype, rows, n, nbytes int64, src, dst unsafe.Pointer, encode bool) error {
	const limit = 1 << 40
	if rows < 0 || n < 0 || rows > limit || n > limit || float64(rows)*float64(n) > limit {
		return fmt.Errorf("rows = %d, n = %d is out of range", rows, n)
	}
	if rows == 0 || n == 0 {
		return nil
	}
	if src == nil || dst == nil {
		return fmt.Errorf("null buffer")
	}
	r, m := int(rows), int(n)
	bytes := r * codec.Int8RowBytes(m)
	if nbytes != int64(bytes) {
		return fmt.Errorf("the encoded buffer has %d bytes, but %d rows of %d values take %d", nbytes, r, m, bytes)
	}
	return dispatch(dtype,
		func() error { return runInt8Typed[float32](src, dst, r, m, bytes, encode) },
		func() error { return runInt8Typed[float64](src, dst, r, m, bytes, encode) })
}

func runInt8Typed[T codec.Float](src, dst unsafe.Pointer, rows, n, bytes int, encode bool) error {
	if encode {
		codec.EncodeInt8(slice[byte](dst, bytes), slice[T](src, rows*n), rows, n)
	} else {
		codec.DecodeInt8(slice[T](dst, rows*n), slice[byte](src, bytes), rows, n)
	}
	return nil
}
