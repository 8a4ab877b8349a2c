package codec

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestInt8RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows, n := 3, 150 // a partial last block
	src := make([]float64, rows*n)
	for i := range src {
		src[i] = rng.NormFloat64() * math.Pow(10, float64(i%7)-3)
	}
	src[5] = 0
	dst := make([]byte, rows*Int8RowBytes(n))
	EncodeInt8(dst, src, rows, n)
	out := make([]float64, len(src))
	DecodeInt8(out, dst, rows, n)
	for i, v := range src {
		r, b := i/n, (i%n)/Block
		var peak float64
		for j := r*n + b*Block; j < r*n+min((b+1)*Block, n); j++ {
			peak = max(peak, math.Abs(src[j]))
		}
		// The code step at |x| is about 2√(|x|/peak)/127 of peak.
		bound := peak * (math.Sqrt(math.Abs(v)/peak)/127 + 1.0/(127*127))
		if math.Abs(out[i]-v) > bound*1.01 {
			t.Fatalf("value %d: %g decoded as %g (bound %g)", i, v, out[i], bound)
		}
	}
	if out[5] != 0 {
		t.Errorf("zero decoded as %g", out[5])
	}
}

func TestInt8ZeroBlock(t *testing.T) {
	src := make([]float32, Block)
	dst := make([]byte, Int8RowBytes(Block))
	EncodeInt8(dst, src, 1, Block)
	out := make([]float32, Block)
	out[3] = 7
	DecodeInt8(out, dst, 1, Block)
	for i, v := range out {
		if v != 0 {
			t.Fatalf("value %d of a zero block decoded as %g", i, v)
		}
	}
}
