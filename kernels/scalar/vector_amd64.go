//go:build goexperiment.simd && amd64

package scalar

import (
	"simd/archsimd"
	"unsafe"
)

// addProduct sets dst[i] += scale·a[i]·b[i], with scale·a[i] rounded
// first (exact for the ±1 and ±2 the Born kernels use). As scalar loops,
// the Born coupling and its adjoint took a third of the Born forward.
func addProduct[T Float](dst []T, scale T, a, b []T) {
	n := len(dst)
	_, _ = a[:n], b[:n]
	i := 0
	switch d := any(dst).(type) {
	case []float32:
		a, b := any(a).([]float32), any(b).([]float32)
		sv := archsimd.BroadcastFloat32x8(float32(scale))
		pd, pa, pb := unsafe.Pointer(unsafe.SliceData(d)), unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(b))
		for ; i+8 <= n; i += 8 {
			at := func(p unsafe.Pointer) *[8]float32 { return (*[8]float32)(unsafe.Add(p, 4*i)) }
			archsimd.LoadFloat32x8(at(pa)).Mul(sv).MulAdd(archsimd.LoadFloat32x8(at(pb)), archsimd.LoadFloat32x8(at(pd))).Store(at(pd))
		}
		archsimd.ClearAVXUpperBits()
	case []float64:
		a, b := any(a).([]float64), any(b).([]float64)
		sv := archsimd.BroadcastFloat64x4(float64(scale))
		pd, pa, pb := unsafe.Pointer(unsafe.SliceData(d)), unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(b))
		for ; i+4 <= n; i += 4 {
			at := func(p unsafe.Pointer) *[4]float64 { return (*[4]float64)(unsafe.Add(p, 8*i)) }
			archsimd.LoadFloat64x4(at(pa)).Mul(sv).MulAdd(archsimd.LoadFloat64x4(at(pb)), archsimd.LoadFloat64x4(at(pd))).Store(at(pd))
		}
		archsimd.ClearAVXUpperBits()
	}
	for ; i < n; i++ {
		dst[i] += scale * a[i] * b[i]
	}
}
