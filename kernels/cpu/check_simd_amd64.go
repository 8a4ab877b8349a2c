//go:build goexperiment.simd && amd64

package cpu

import (
	"errors"
	"simd/archsimd"
)

var errNoAVX2 = errors.New("this torchwave library was built with AVX2 and FMA vector kernels (GOEXPERIMENT=simd), " +
	"and this CPU lacks AVX2 or FMA: rebuild it with the plain-Go kernels (make build GOEXP=)")

// Check reports an error when the CPU lacks what the vector kernels of
// this build use (AVX2 and FMA): running them there would kill the process
// with an illegal instruction.
func Check() error {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		return errNoAVX2
	}
	return nil
}
