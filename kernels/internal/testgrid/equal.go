package testgrid

import "testing"

// Identical fails t unless got and want hold the same values, element by
// element: the check of tests that expect results bit for bit.
func Identical(t testing.TB, name string, got, want []float64) {
	t.Helper()
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s differs at %d: %g, want %g", name, i, got[i], want[i])
		}
	}
}
