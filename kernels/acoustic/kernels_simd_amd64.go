//go:build goexperiment.simd && amd64

package acoustic

// SIMD reports whether the kernels use archsimd vector code.
const SIMD = true

// forceGeneric makes every kernel the plain-Go one (tests compare them).
var forceGeneric = false

// setGeneric sets forceGeneric.
func setGeneric(on bool) { forceGeneric = on }

// axisKind is the column of a kernel table: 1 along x, 0 along z or y.
func axisKind(d int) int {
	if d == 2 {
		return 1
	}
	return 0
}

func (q *plan[T]) fwdV(sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	if !forceGeneric {
		switch q := any(q).(type) {
		case *plan[float32]:
			fwdVF32[q.h][axisKind(d)](q, any(sh).(*shot[float32]), d, base, x0, x1, band, j)
			return
		case *plan[float64]:
			fwdVF64[q.h][axisKind(d)](q, any(sh).(*shot[float64]), d, base, x0, x1, band, j)
			return
		}
	}
	fwdVGeneric(q, sh, d, base, x0, x1, band, j)
}

func (q *plan[T]) fwdP(sh *shot[T], base, x0, x1 int, band [3]bool, j [3]int) {
	if !forceGeneric {
		switch q := any(q).(type) {
		case *plan[float32]:
			fwdPF32[q.h][q.NDim](q, any(sh).(*shot[float32]), base, x0, x1, band, j)
			return
		case *plan[float64]:
			fwdPF64[q.h][q.NDim](q, any(sh).(*shot[float64]), base, x0, x1, band, j)
			return
		}
	}
	fwdPGeneric(q, sh, base, x0, x1, band, j)
}

func (q *plan[T]) bwdA(sh *shot[T], d, base, x0, x1 int, band bool, j int) {
	if !forceGeneric {
		switch q := any(q).(type) {
		case *plan[float32]:
			bwdAF32[q.h][axisKind(d)](q, any(sh).(*shot[float32]), d, base, x0, x1, band, j)
			return
		case *plan[float64]:
			bwdAF64[q.h][axisKind(d)](q, any(sh).(*shot[float64]), d, base, x0, x1, band, j)
			return
		}
	}
	bwdAGeneric(q, sh, d, base, x0, x1, band, j)
}

func (q *plan[T]) bwdC(sh *shot[T], base, x0, x1 int, bandP, nearV [3]bool, j [3]int) {
	if !forceGeneric {
		switch q := any(q).(type) {
		case *plan[float32]:
			bwdCF32[q.h][q.NDim](q, any(sh).(*shot[float32]), base, x0, x1, bandP, nearV, j)
			return
		case *plan[float64]:
			bwdCF64[q.h][q.NDim](q, any(sh).(*shot[float64]), base, x0, x1, bandP, nearV, j)
			return
		}
	}
	bwdCGeneric(q, sh, base, x0, x1, bandP, nearV, j)
}

// vectorConstants has nothing to prepare: the kernels broadcast their
// weights per call.
func vectorConstants[T Float](*plan[T]) any { return nil }
