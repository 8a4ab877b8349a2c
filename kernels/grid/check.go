// Package grid holds the checks every propagator's padded grid shares:
// buffer lengths, source or receiver cells, and windows of stored snapshots.
package grid

import "fmt"

// CheckLen reports a buffer whose length is not the expected one.
func CheckLen(name string, got, want int) error {
	if got != want {
		return fmt.Errorf("%s has %d elements, want %d", name, got, want)
	}
	return nil
}

// CheckLocations checks what's flat cell indices, [shots][n], on an ny×nx
// grid: each must lie inside the halo of width halo, or be -1 (ignored).
func CheckLocations(what string, idx []int64, shots, n, ny, nx, halo int) error {
	if n < 0 {
		return fmt.Errorf("negative number of %ss", what)
	}
	if err := CheckLen(what+" index", len(idx), shots*n); err != nil {
		return err
	}
	for _, i := range idx {
		if i == -1 {
			continue
		}
		y, x := int(i)/nx, int(i)%nx
		if i < 0 || y < halo || y >= ny-halo || x < halo || x >= nx-halo {
			return fmt.Errorf("%s index %d is outside the %d×%d grid's interior", what, i, ny, nx)
		}
	}
	return nil
}

// CheckStoreWindow checks that a store of n elements, whose first snapshot
// is snapshot first, holds every snapshot (step / interval) of the steps
// [step0, step0+steps), each of size elements.
func CheckStoreWindow(name string, n, step0, steps, interval, first, size int) error {
	if steps == 0 {
		return nil
	}
	lo := (step0 + interval - 1) / interval // the steps' first snapshot
	hi := (step0 + steps - 1) / interval
	if first < 0 || (lo <= hi && first > lo) {
		return fmt.Errorf("%s starts at snapshot %d, but the chunk's first snapshot is %d", name, first, lo)
	}
	if need := (hi - first + 1) * size; lo <= hi && n < need {
		return fmt.Errorf("%s has %d elements, snapshots %d to %d need %d", name, n, first, hi, need)
	}
	return nil
}
