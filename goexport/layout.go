package main

/*
#include "torchwave.h"
*/
import "C"

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"
)

// abiStruct is one of torchwave.h's structs as cgo translated it from
// the C compiler's layout; sizeof is the C compiler's own sizeof.
type abiStruct struct {
	name   string
	typ    reflect.Type
	sizeof uintptr
}

// abiStructs lists every struct torchwave.h defines, in its order.
var abiStructs = []abiStruct{
	{"tw_scalar_args", reflect.TypeFor[C.tw_scalar_args](), C.sizeof_tw_scalar_args},
	{"tw_scalar_boundary_args", reflect.TypeFor[C.tw_scalar_boundary_args](), C.sizeof_tw_scalar_boundary_args},
	{"tw_scalar_born_args", reflect.TypeFor[C.tw_scalar_born_args](), C.sizeof_tw_scalar_born_args},
	{"tw_maxwell_args", reflect.TypeFor[C.tw_maxwell_args](), C.sizeof_tw_maxwell_args},
	{"tw_acoustic_args", reflect.TypeFor[C.tw_acoustic_args](), C.sizeof_tw_acoustic_args},
}

type abiConst struct {
	name  string
	value int
}

// abiConsts are the named values of the ABI, grouped as in the document.
var abiConsts = []struct {
	group  string
	values []abiConst
}{
	{"status", []abiConst{{"TW_OK", C.TW_OK}, {"TW_EINVAL", C.TW_EINVAL}, {"TW_EPANIC", C.TW_EPANIC},
		{"TW_EUNSUPPORTED", C.TW_EUNSUPPORTED}}},
	{"dtype", []abiConst{{"TW_FLOAT32", C.TW_FLOAT32}, {"TW_FLOAT64", C.TW_FLOAT64}}},
	{"simd", []abiConst{{"TW_SIMD_SCALAR", C.TW_SIMD_SCALAR}, {"TW_SIMD_MAXWELL", C.TW_SIMD_MAXWELL}}},
}

// layoutDocument is tw_abi_layout's JSON, written by hand to keep the
// header's order (encoding/json sorts map keys) in the format of
// Python's json.dumps. Every name is a C identifier, so %q quotes it as
// JSON does.
var layoutDocument = sync.OnceValue(func() string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version": %d`, C.TW_ABI_VERSION)
	for _, g := range abiConsts {
		fmt.Fprintf(&b, `, %q: {`, g.group)
		for i, c := range g.values {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, `%q: %d`, c.name, c.value)
		}
		b.WriteString("}")
	}
	b.WriteString(`, "structs": {`)
	for i, s := range abiStructs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `%q: {"size": %d, "fields": [`, s.name, s.typ.Size())
		sep := ""
		for j := range s.typ.NumField() {
			f := s.typ.Field(j)
			if f.Name == "_" { // padding cgo inserted
				continue
			}
			fmt.Fprintf(&b, `%s{"name": %q, "offset": %d, "size": %d}`, sep, f.Name, f.Offset, f.Type.Size())
			sep = ", "
		}
		b.WriteString("]}")
	}
	b.WriteString("}}")
	return b.String()
})

// copyLayout writes the document and a NUL into buf when its n bytes
// hold both, and nothing otherwise; it returns the document's length.
func copyLayout(buf unsafe.Pointer, n int64) int64 {
	doc := layoutDocument()
	if buf != nil && n > int64(len(doc)) {
		b := unsafe.Slice((*byte)(buf), len(doc)+1)
		b[copy(b, doc)] = 0
	}
	return int64(len(doc))
}

//export tw_abi_layout
func tw_abi_layout(buf *C.char, n C.int64_t) (length C.int64_t) {
	defer func() {
		if recover() != nil {
			length = -1
		}
	}()
	return C.int64_t(copyLayout(unsafe.Pointer(buf), int64(n)))
}
