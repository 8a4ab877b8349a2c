// Package parallel splits a range of work items across a bounded number of
// goroutines. torchwave's kernels use it to share the rows of every shot
// among the threads, so a single shot uses every core.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var numThreads atomic.Int64

func init() { numThreads.Store(int64(runtime.NumCPU())) }

// SetThreads sets how many goroutines For uses. n < 1 restores the default,
// the number of logical CPUs.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.NumCPU()
	}
	numThreads.Store(int64(n))
}

// Threads reports how many goroutines For uses.
func Threads() int { return int(numThreads.Load()) }

// For calls body(lo, hi) on contiguous, disjoint blocks that cover [0, n),
// at most Threads() of them at once, and returns when all have finished.
// A panic in any block is re-raised in the caller once every block is done,
// so the caller's recover sees it.
func For(n int, body func(lo, hi int)) {
	t := Threads()
	if t > n {
		t = n
	}
	if t <= 1 {
		if n > 0 {
			body(0, n)
		}
		return
	}
	if workers.mu.TryLock() {
		defer workers.mu.Unlock()
		workers.run(n, t, body)
		return
	}
	spawn(n, t, body) // For inside For, or from two goroutines at once
}

// spawn is For on fresh goroutines.
func spawn(n, t int, body func(lo, hi int)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var panicked any
	run := func(lo, hi int) {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				panicked = r
				mu.Unlock()
			}
		}()
		body(lo, hi)
	}
	// The last block runs on the calling goroutine: one thread wake-up
	// fewer per call, which a time-stepping loop pays every step.
	for b := 0; b < t-1; b++ {
		lo, hi := b*n/t, (b+1)*n/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(lo, hi)
		}()
	}
	run((t-1)*n/t, n)
	// Every block has finished before a panic is re-raised, so none can
	// still be writing to the caller's buffers.
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}
