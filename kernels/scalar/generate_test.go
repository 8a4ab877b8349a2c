package scalar

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedKernelsCurrent regenerates the vector kernels and checks
// that the committed file matches: edit the template, then go generate.
func TestGeneratedKernelsCurrent(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	out := filepath.Join(t.TempDir(), "kernels.go")
	cmd := exec.Command(goTool, "run", "./internal/gen", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("interior_simd_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("interior_simd_amd64.go is stale: run `go generate ./kernels/scalar`")
	}
}
