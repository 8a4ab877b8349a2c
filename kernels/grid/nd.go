package grid

import (
	"fmt"
	"strings"
)

// CheckLocationsND is CheckLocations on a grid of any number of
// dimensions, dims slowest first (a 3D grid is nz, ny, nx): each flat cell
// index must lie inside the halo of width halo on every axis, or be −1.
func CheckLocationsND(what string, idx []int64, shots, n, halo int, dims ...int) error {
	if n < 0 {
		return fmt.Errorf("negative number of %ss", what)
	}
	if err := CheckLen(what+" index", len(idx), shots*n); err != nil {
		return err
	}
	total := 1
	for _, d := range dims {
		total *= d
	}
	for _, i := range idx {
		if i == -1 {
			continue
		}
		if i < 0 || i >= int64(total) || !insideHalo(int(i), halo, dims) {
			shape := make([]string, len(dims))
			for k, d := range dims {
				shape[k] = fmt.Sprint(d)
			}
			return fmt.Errorf("%s index %d is outside the %s grid's interior", what, i, strings.Join(shape, "×"))
		}
	}
	return nil
}

// insideHalo reports whether flat cell i of a grid of dims is at least halo
// cells from every face.
func insideHalo(i, halo int, dims []int) bool {
	for k := len(dims) - 1; k >= 0; k-- {
		c := i % dims[k]
		if c < halo || c >= dims[k]-halo {
			return false
		}
		i /= dims[k]
	}
	return true
}
