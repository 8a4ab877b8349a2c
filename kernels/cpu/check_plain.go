//go:build !(goexperiment.simd && amd64)

package cpu

// Check has nothing to check: the plain-Go kernels run on any CPU.
func Check() error { return nil }
