package scalar3d

import (
	"os/exec"
	"testing"
)

// TestGeneratedKernelsCurrent checks that the committed vector kernels and
// their assembly are what the generator writes: edit the generator, then
// go generate.
func TestGeneratedKernelsCurrent(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	if msg, err := exec.Command(goTool, "run", "./internal/gen", "-check").CombinedOutput(); err != nil {
		t.Errorf("%v: run `go generate ./kernels/scalar3d`\n%s", err, msg)
	}
}
