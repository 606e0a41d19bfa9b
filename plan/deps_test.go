package plan

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPlannerCompilesNoStoreClient checks that the planner reads a store's
// listing through providers/store/catalog alone: neither the stores (which
// do I/O) nor the S3 client are among its dependencies.
func TestPlannerCompilesNoStoreClient(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command lists the planner's dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/planb-backup/planb/plan" {
		t.Fatalf("go list -deps did not list the plan package last: %q", deps)
	}
	for _, d := range deps {
		if strings.Contains(d, "minio") || d == "github.com/planb-backup/planb/providers/store" {
			t.Errorf("plan depends on %s", d)
		}
	}
}
