package parallel

// Sweep runs several passes over the rows [0, rows) of a grid in one sweep,
// for stencil updates whose passes depend on each other: pass j's row r
// reads pass j−1's rows within lag of r, and may overwrite what pass j−1
// reads there. Pass j runs once pass j−1 is lag rows past it, so the rows it
// reads are still in cache: on grids larger than the cache a sweep of k
// passes costs about one pass of memory traffic instead of k.
//
// do(j, lo, hi) runs pass j on rows [lo, hi); calls for one pass come in
// row order for each block of rows. With shared set the threads split the
// rows into blocks; near a seam between blocks pass j needs the
// neighbour's rows, so it leaves j·lag rows either side of each seam, and
// those run after every block is done, one pass at a time. Levels must be
// at most SweepLevels(rows, levels, lag, shared).
func Sweep(rows, levels, lag int, shared bool, do func(j, lo, hi int)) {
	if !shared {
		sweepBlock(rows, levels, lag, 0, rows, false, false, do)
		return
	}
	For(rows, func(lo, hi int) { sweepBlock(rows, levels, lag, lo, hi, lo > 0, hi < rows, do) })
	for j := 1; j < levels; j++ {
		For(rows, func(lo, hi int) {
			if lo > 0 {
				do(j, lo, lo+j*lag)
			}
			if hi < rows {
				do(j, hi-j*lag, hi)
			}
		})
	}
}

// SweepLevels is how many of want passes one Sweep can run: every block of
// rows must be deep enough for the passes to trail each other inside it.
func SweepLevels(rows, want, lag int, shared bool) int {
	t := 1
	if shared {
		t = min(Threads(), rows)
	}
	k := min(want, maxSweepLevels)
	for k > 1 && rows/t < 2*k*lag {
		k--
	}
	return max(k, 1)
}

const (
	// sweepRows is how many rows the first pass runs ahead at a time.
	sweepRows = 16
	// maxSweepLevels bounds the passes of one sweep.
	maxSweepLevels = 16
)

// sweepBlock runs the passes over rows [lo, hi), leaving the rows next to
// the seams named by deferTop and deferBottom.
func sweepBlock(rows, levels, lag, lo, hi int, deferTop, deferBottom bool, do func(j, lo, hi int)) {
	var start, end, done [maxSweepLevels]int
	for j := 0; j < levels; j++ {
		start[j], end[j] = lo, hi
		if deferTop {
			start[j] += j * lag
		}
		if deferBottom {
			end[j] -= j * lag
		}
		done[j] = start[j]
	}
	last := levels - 1
	for done[last] < end[last] {
		if done[0] < end[0] {
			e := min(done[0]+sweepRows, end[0])
			do(0, done[0], e)
			done[0] = e
		}
		for j := 1; j < levels; j++ {
			limit := done[j-1] - lag
			if done[j-1] == end[j-1] {
				limit = end[j]
			}
			if limit = min(limit, end[j]); done[j] < limit {
				do(j, done[j], limit)
				done[j] = limit
			}
		}
	}
}
