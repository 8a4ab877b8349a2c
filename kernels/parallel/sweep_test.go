package parallel

import (
	"fmt"
	"sync"
	"testing"
)

// TestSweepOrder checks every pass of every row runs once, and that when
// pass j runs row r, pass j−1 has finished rows r±lag and pass j+1 has not
// started on them.
func TestSweepOrder(t *testing.T) {
	defer SetThreads(0)
	for _, c := range []struct{ rows, levels, lag, threads int }{
		{40, 1, 2, 1}, {40, 4, 2, 1}, {100, 3, 4, 2}, {97, 4, 1, 3}, {300, 8, 3, 4}, {64, 2, 4, 2},
	} {
		t.Run(fmt.Sprintf("rows%d/levels%d/lag%d/threads%d", c.rows, c.levels, c.lag, c.threads), func(t *testing.T) {
			SetThreads(c.threads)
			shared := c.threads > 1
			if k := SweepLevels(c.rows, c.levels, c.lag, shared); k != c.levels {
				t.Fatalf("SweepLevels = %d, want %d", k, c.levels)
			}
			var mu sync.Mutex
			ran := make([][]int, c.levels)
			for j := range ran {
				ran[j] = make([]int, c.rows)
			}
			var bad []string
			Sweep(c.rows, c.levels, c.lag, shared, func(j, lo, hi int) {
				mu.Lock()
				defer mu.Unlock()
				for r := lo; r < hi; r++ {
					for d := -c.lag; d <= c.lag; d++ {
						n := r + d
						if n < 0 || n >= c.rows {
							continue
						}
						if j > 0 && ran[j-1][n] == 0 {
							bad = append(bad, fmt.Sprintf("pass %d row %d before pass %d row %d", j, r, j-1, n))
						}
						if j+1 < c.levels && ran[j+1][n] != 0 {
							bad = append(bad, fmt.Sprintf("pass %d row %d after pass %d row %d", j, r, j+1, n))
						}
					}
					ran[j][r]++
				}
			})
			if len(bad) > 0 {
				t.Fatalf("%d order violations, first: %s", len(bad), bad[0])
			}
			for j := range ran {
				for r, n := range ran[j] {
					if n != 1 {
						t.Fatalf("pass %d ran row %d %d times", j, r, n)
					}
				}
			}
		})
	}
}

func TestSweepLevels(t *testing.T) {
	defer SetThreads(0)
	SetThreads(2)
	if got := SweepLevels(1000, 4, 4, true); got != 4 {
		t.Errorf("SweepLevels(1000, 4, 4, shared) = %d, want 4", got)
	}
	if got := SweepLevels(40, 4, 4, true); got != 2 { // blocks of 20 rows
		t.Errorf("SweepLevels(40, 4, 4, shared) = %d, want 2", got)
	}
	if got := SweepLevels(40, 4, 4, false); got != 4 {
		t.Errorf("SweepLevels(40, 4, 4, alone) = %d, want 4", got)
	}
	if got := SweepLevels(12, 4, 4, false); got != 1 {
		t.Errorf("SweepLevels(12, 4, 4, alone) = %d, want 1", got)
	}
}
