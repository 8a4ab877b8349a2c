package parallel

import (
	"sync"
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

// TestForFromManyGoroutines runs For from several goroutines at once, with
// For inside For and the thread count changing, and checks every index is
// visited once: one call holds the worker pool, the others start their
// own goroutines.
func TestForFromManyGoroutines(t *testing.T) {
	defer SetThreads(0)
	SetThreads(3)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for call := 0; call < 200; call++ {
				n := 1 + (g*31+call*7)%50
				hits := make([]int32, n*n)
				For(n, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						For(n, func(lo2, hi2 int) {
							for j := lo2; j < hi2; j++ {
								atomic.AddInt32(&hits[i*n+j], 1)
							}
						})
					}
				})
				for i, h := range hits {
					if h != 1 {
						t.Errorf("goroutine %d call %d: index %d visited %d times", g, call, i, h)
						return
					}
				}
				if call == 100 && g == 0 {
					SetThreads(2)
				}
			}
		}()
	}
	wg.Wait()
}
