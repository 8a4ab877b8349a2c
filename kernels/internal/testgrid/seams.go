// Package testgrid holds helpers the kernels' tests share.
package testgrid

// RowsNearSeams lists grid rows either side of each seam where
// parallel.For splits the interior rows [halo, ny−halo) among threads
// (for one thread: the first, middle and last interior rows), so a test
// can put sources and receivers where a row-parallel sweep hands rows
// from one thread to the next.
func RowsNearSeams(ny, halo, threads int) []int {
	rows := ny - 2*halo
	var near []int
	for b := 1; b < threads; b++ {
		m := halo + b*rows/threads
		near = append(near, m-3*halo, m-halo-1, m-1, m, m+halo, m+2*halo+1)
	}
	if threads == 1 {
		near = append(near, halo, halo+rows/2, ny-halo-1)
	}
	return near
}
