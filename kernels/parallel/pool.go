package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A goroutine started for each block of For waits for a thread to run on,
// and on a virtual machine waking a parked thread can take longer than a
// time step's block of rows: 170 µs measured on a 2-vCPU VM, against
// 200 µs of work. The pool keeps its workers spinning for a while after
// each job, so the next For of a time-stepping loop starts them at once;
// idle for longer than spinFor, they park.

// spinFor is how long an idle worker polls for the next job before it
// parks.
const spinFor = 500 * time.Microsecond

var workers pool

// pool runs For's blocks on long-lived workers. mu is held by the For
// that is using it.
type pool struct {
	mu sync.Mutex

	job     atomic.Pointer[job] // the latest job; workers compare its gen
	pending atomic.Int64        // worker blocks of it not finished yet

	panicMu  sync.Mutex
	panicked any

	started int // workers running
	park    sync.Mutex
	wake    *sync.Cond // signalled when a job is published (workers park on it)
	done    *sync.Cond // signalled when pending reaches 0 (run parks on it)
}

// job is one For call: n items in t blocks. Only body is written after it
// is published, once every block is done: a worker without a block may
// still read gen and t after its For returned.
type job struct {
	gen  uint64
	n, t int
	body func(lo, hi int)
}

// gen is the generation of the latest job, 0 before the first.
func (p *pool) gen() uint64 {
	if j := p.job.Load(); j != nil {
		return j.gen
	}
	return 0
}

// run is For's body on the pool: blocks 0..t−2 go to workers 0..t−2, the
// last block runs here.
func (p *pool) run(n, t int, body func(lo, hi int)) {
	if p.wake == nil {
		p.wake, p.done = sync.NewCond(&p.park), sync.NewCond(&p.park)
	}
	for ; p.started < t-1; p.started++ {
		go p.worker(p.started, p.gen())
	}
	p.panicked = nil
	p.pending.Store(int64(t - 1))
	p.park.Lock()
	j := &job{gen: p.gen() + 1, n: n, t: t, body: body}
	p.job.Store(j)
	p.wake.Broadcast()
	p.park.Unlock()

	p.block(t-1, n, t, body)
	// The caller may be a cgo call's goroutine, locked to its C thread:
	// there runtime.Gosched hands the P to another thread and sleeps until
	// one hands it back, which cost more than the rows of a small grid
	// (a 108² forward from Python ran 2× slower on two threads than on
	// one). So it spins without yielding, unless the workers need its P.
	yield := t > runtime.GOMAXPROCS(0)
	if !p.spinUntil(func() bool { return p.pending.Load() == 0 }, yield) {
		p.park.Lock()
		for p.pending.Load() != 0 {
			p.done.Wait()
		}
		p.park.Unlock()
	}
	// Every worker that runs a block has finished with body: drop it, and
	// what it holds, rather than keep it until the next For.
	j.body = nil
	// Every block has finished before a panic is re-raised, so none can
	// still be writing to the caller's buffers.
	if p.panicked != nil {
		panic(p.panicked)
	}
}

// worker runs block k of every job that has one.
func (p *pool) worker(k int, seen uint64) {
	for {
		if !p.spinUntil(func() bool { return p.gen() != seen }, true) {
			p.park.Lock()
			for p.gen() == seen {
				p.wake.Wait()
			}
			p.park.Unlock()
		}
		j := p.job.Load()
		seen = j.gen
		if k >= j.t-1 {
			continue // a job with fewer blocks than workers
		}
		p.block(k, j.n, j.t, j.body)
		if p.pending.Add(-1) == 0 {
			p.park.Lock()
			p.done.Broadcast()
			p.park.Unlock()
		}
	}
}

// block runs block k of n items in t blocks, keeping a panic for run.
func (p *pool) block(k, n, t int, body func(lo, hi int)) {
	defer func() {
		if r := recover(); r != nil {
			p.panicMu.Lock()
			p.panicked = r
			p.panicMu.Unlock()
		}
	}()
	body(k*n/t, (k+1)*n/t)
}

// spinUntil polls cond for up to spinFor, with yield letting other
// goroutines run now and then; it reports whether cond came true.
func (p *pool) spinUntil(cond func() bool, yield bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i%64 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				return false
			}
			if yield {
				runtime.Gosched()
			}
		}
	}
}
