//go:build !(goexperiment.simd && amd64)

package acoustic

// SIMD reports whether the kernels use archsimd vector code.
const SIMD = false

func (q *plan[T]) fwdV(sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	fwdVGeneric(q, sh, d, base, x0, x1, band, j)
}

func (q *plan[T]) fwdP(sh *shot[T], base, x0, x1 int, band [3]bool, j [3]int) {
	fwdPGeneric(q, sh, base, x0, x1, band, j)
}

func (q *plan[T]) bwdA(sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	bwdAGeneric(q, sh, d, base, x0, x1, band, j)
}

func (q *plan[T]) bwdC(sh *shot[T], base, x0, x1 int, bandP, nearV [3]bool, j [3]int) {
	bwdCGeneric(q, sh, base, x0, x1, bandP, nearV, j)
}

// setGeneric has no effect: every kernel is the plain-Go one.
func setGeneric(bool) {}

// vectorConstants has nothing to prepare without vector kernels.
func vectorConstants[T Float](*plan[T]) any { return nil }
