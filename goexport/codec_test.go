package main

import (
	"testing"
	"unsafe"
)

func TestInt8Arguments(t *testing.T) {
	src := make([]float32, 2*100)
	dst := make([]byte, 2*(2*4+2*64))
	ps, pd := unsafe.Pointer(&src[0]), unsafe.Pointer(&dst[0])
	if err := runInt8(0, 2, 100, int64(len(dst)), ps, pd, true); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"short buffer": runInt8(0, 2, 100, int64(len(dst))-1, ps, pd, true),
		"negative":     runInt8(0, -1, 100, 0, ps, pd, true),
		"null":         runInt8(1, 2, 100, int64(len(dst)), nil, pd, false),
		"dtype":        runInt8(5, 2, 100, int64(len(dst)), ps, pd, true),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
