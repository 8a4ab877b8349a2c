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
