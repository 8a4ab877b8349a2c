package lbfgsb

import (
	"math"
	"testing"
)

// BenchmarkIteration measures the solver's own work per iteration on a
// cheap quadratic with 10^6 variables.
func BenchmarkIteration(b *testing.B) {
	for _, bounded := range []bool{false, true} {
		name := "unbounded"
		if bounded {
			name = "box"
		}
		b.Run(name, func(b *testing.B) {
			const n = 1_000_000
			h, c := make([]float64, n), make([]float64, n)
			for i := range n {
				h[i] = math.Pow(10, 4*float64(i%1000)/999)
				c[i] = math.Sin(float64(i)) * h[i]
			}
			fn := func(x, g []float64) float64 {
				var f float64
				for i := range x {
					g[i] = h[i]*x[i] - c[i]
					f += 0.5*h[i]*x[i]*x[i] - c[i]*x[i]
				}
				return f
			}
			var lo, hi []float64
			if bounded {
				lo, hi = filled(n, -0.5), filled(n, 0.5)
			}
			s, _ := New(make([]float64, n), lo, hi, Settings{GradientTolerance: -0, FunctionTolerance: -1})
			grad := make([]float64, n)
			var f float64
			task := Evaluate
			b.ResetTimer()
			for range b.N {
				for task != NewIteration {
					if task.Done() {
						b.Fatal(s.Reason())
					}
					if task == Evaluate {
						b.StopTimer()
						f = fn(s.X(), grad)
						b.StartTimer()
					}
					task = s.Next(f, grad)
				}
				task = s.Next(f, grad)
			}
		})
	}
}
