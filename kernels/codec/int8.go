// Package codec compresses wavefield snapshots for the backward pass.
//
// Int8 coding keeps one float32 scale per block of Block values (the
// block's largest magnitude) and one byte per value: the code of x is
// round(127·sign(x)·√(|x|/scale)). The square root (companding) spends the
// codes more evenly over magnitudes, so small values in a block that also
// holds a large one keep more relative precision than a linear code gives.
package codec

import (
	"encoding/binary"
	"math"

	"github.com/torchwave/torchwave/kernels/parallel"
)

// Block is the number of values that share one scale.
const Block = 64

// Float is the element type of the snapshots.
type Float interface{ ~float32 | ~float64 }

// Int8RowBytes is the encoded size of a row of n values: the scales of its
// blocks, then one code per value (the last block padded with zeros).
func Int8RowBytes(n int) int {
	blocks := (n + Block - 1) / Block
	return blocks*4 + blocks*Block
}

// EncodeInt8 encodes rows of n values each from src into dst, rows of
// Int8RowBytes(n) bytes.
func EncodeInt8[T Float](dst []byte, src []T, rows, n int) {
	blocks := (n + Block - 1) / Block
	rowBytes := Int8RowBytes(n)
	_ = dst[rows*rowBytes-1]
	_ = src[rows*n-1]
	parallel.For(rows*blocks, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			r, b := k/blocks, k%blocks
			row := dst[r*rowBytes : (r+1)*rowBytes]
			values := src[r*n+b*Block : r*n+min((b+1)*Block, n)]
			codes := row[blocks*4+b*Block : blocks*4+(b+1)*Block]
			var peak float64
			for _, v := range values {
				peak = max(peak, math.Abs(float64(v)))
			}
			scale := float32(peak)
			binary.LittleEndian.PutUint32(row[b*4:], math.Float32bits(scale))
			inv := 0.0
			if scale > 0 {
				inv = 1 / float64(scale)
			}
			for i, v := range values {
				x := float64(v) * inv
				c := math.Round(127 * math.Sqrt(math.Abs(x)))
				c = min(c, 127)
				if x < 0 {
					c = -c
				}
				codes[i] = byte(int8(c))
			}
			for i := len(values); i < Block; i++ {
				codes[i] = 0
			}
		}
	})
}

// DecodeInt8 is the inverse of EncodeInt8 up to the coding error.
func DecodeInt8[T Float](dst []T, src []byte, rows, n int) {
	blocks := (n + Block - 1) / Block
	rowBytes := Int8RowBytes(n)
	_ = src[rows*rowBytes-1]
	_ = dst[rows*n-1]
	parallel.For(rows*blocks, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			r, b := k/blocks, k%blocks
			row := src[r*rowBytes : (r+1)*rowBytes]
			scale := float64(math.Float32frombits(binary.LittleEndian.Uint32(row[b*4:])))
			values := dst[r*n+b*Block : r*n+min((b+1)*Block, n)]
			codes := row[blocks*4+b*Block:]
			for i := range values {
				c := float64(int8(codes[i])) / 127
				values[i] = T(c * math.Abs(c) * scale)
			}
		}
	})
}
