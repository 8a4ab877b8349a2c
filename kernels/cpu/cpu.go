// Package cpu checks that the processor can run the kernels this build
// compiled. The archsimd kernels of every kernel package share one build
// constraint (GOEXPERIMENT=simd on amd64), so one check covers them all.
package cpu
