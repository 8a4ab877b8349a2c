package cpu_test

import (
	"testing"

	"github.com/torchwave/torchwave/kernels/cpu"
	"github.com/torchwave/torchwave/kernels/maxwell"
	"github.com/torchwave/torchwave/kernels/scalar"
)

// The check guards exactly the builds whose kernels use archsimd: a
// kernel package with vector code and no check would crash on an old CPU.
func TestCheckMatchesKernels(t *testing.T) {
	if scalar.SIMD != maxwell.SIMD {
		t.Fatalf("scalar.SIMD = %v but maxwell.SIMD = %v: their build constraints differ from cpu's", scalar.SIMD, maxwell.SIMD)
	}
	err := cpu.Check()
	if !scalar.SIMD && err != nil {
		t.Fatalf("plain-Go build: Check() = %v, want nil", err)
	}
	t.Logf("vector kernels %v, Check() = %v", scalar.SIMD, err)
}
