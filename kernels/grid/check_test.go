package grid

import "testing"

func TestCheckLocations(t *testing.T) {
	ok := []int64{2*10 + 2, -1, 7*10 + 7}
	if err := CheckLocations("source", ok, 1, 3, 10, 10, 2); err != nil {
		t.Fatal(err)
	}
	for name, idx := range map[string][]int64{
		"in the halo":  {1*10 + 5, -1, 55},
		"negative":     {-5, -1, 55},
		"past the end": {100, -1, 55},
	} {
		if err := CheckLocations("source", idx, 1, 3, 10, 10, 2); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := CheckLocations("source", ok, 2, 3, 10, 10, 2); err == nil {
		t.Error("a short index list was accepted")
	}
}

func TestCheckStoreWindow(t *testing.T) {
	// Steps 4..9 at interval 2 keep snapshots 2, 3 and 4, of 10 elements.
	for _, c := range []struct {
		n, first int
		ok       bool
	}{{30, 2, true}, {29, 2, false}, {50, 0, true}, {20, 3, false}, {30, -1, false}} {
		err := CheckStoreWindow("store", c.n, 4, 6, 2, c.first, 10)
		if (err == nil) != c.ok {
			t.Errorf("n %d, first %d: err %v, want ok %v", c.n, c.first, err, c.ok)
		}
	}
	if err := CheckStoreWindow("store", 0, 4, 0, 2, 9, 10); err != nil {
		t.Errorf("no steps: %v", err)
	}
}

func TestCheckLocationsND(t *testing.T) {
	// 3D 6×7×8, halo 2: (2,2,2) is inside, (1,3,3) and (3,3,6) are not.
	at := func(z, y, x int) int64 { return int64((z*7+y)*8 + x) }
	if err := CheckLocationsND("source", []int64{at(2, 2, 2), -1, at(3, 4, 5)}, 1, 3, 2, 6, 7, 8); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int64{at(1, 3, 3), at(3, 3, 6), at(3, 5, 3), at(4, 3, 3), -2, 6 * 7 * 8} {
		if err := CheckLocationsND("source", []int64{bad}, 1, 1, 2, 6, 7, 8); err == nil {
			t.Errorf("index %d accepted", bad)
		}
	}
	// 2D agrees with CheckLocations.
	for i := int64(-1); i < 12*14+2; i++ {
		a := CheckLocations("r", []int64{i}, 1, 1, 12, 14, 2) == nil
		b := CheckLocationsND("r", []int64{i}, 1, 1, 2, 12, 14) == nil
		if a != b {
			t.Errorf("index %d: 2D %v, ND %v", i, a, b)
		}
	}
}
