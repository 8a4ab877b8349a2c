package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCoversRangeOnce(t *testing.T) {
	defer SetThreads(0)
	for _, threads := range []int{1, 2, 3, 8} {
		SetThreads(threads)
		for _, n := range []int{0, 1, 2, 5, 17, 1000} {
			hits := make([]int32, n)
			For(n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("threads %d, n %d: index %d visited %d times", threads, n, i, h)
				}
			}
		}
	}
}

func TestForReraisesPanicAfterAllBlocks(t *testing.T) {
	defer SetThreads(0)
	SetThreads(4)
	var finished atomic.Int32
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the block's panic", r)
		}
		if got := finished.Load(); got != 3 {
			t.Fatalf("%d blocks finished before the panic was re-raised, want 3", got)
		}
	}()
	For(4, func(lo, hi int) {
		if lo == 3 { // the block run on the calling goroutine
			panic("boom")
		}
		finished.Add(1)
	})
}

func TestShotsTogether(t *testing.T) {
	defer SetThreads(0)
	const big, small = 1 << 20, 1 << 10
	SetThreads(2)
	for _, c := range []struct{ shots, cells, want int }{
		{1, big, 0}, {4, big, 4}, {3, big, 2}, {3, small, 3},
	} {
		if got := ShotsTogether(c.shots, c.cells); got != c.want {
			t.Errorf("ShotsTogether(%d, %d) with 2 threads = %d, want %d", c.shots, c.cells, got, c.want)
		}
	}
	SetThreads(1)
	if got := ShotsTogether(4, big); got != 0 {
		t.Errorf("ShotsTogether(4, big) with 1 thread = %d, want 0", got)
	}
}
