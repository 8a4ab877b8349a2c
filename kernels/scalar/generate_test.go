package scalar

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedKernelsCurrent regenerates the vector kernels and their
// assembly and checks that the committed files match: edit the
// generator, then go generate.
func TestGeneratedKernelsCurrent(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	dir := t.TempDir()
	cmd := exec.Command(goTool, "run", "./internal/gen", "-o", filepath.Join(dir, "kernels.go"), "-s", filepath.Join(dir, "band.s"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, msg)
	}
	for committed, fresh := range map[string]string{"interior_simd_amd64.go": "kernels.go", "band_amd64.s": "band.s"} {
		want, err := os.ReadFile(filepath.Join(dir, fresh))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate ./kernels/scalar`", committed)
		}
	}
}
