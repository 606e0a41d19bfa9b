package planb_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// TestOtherPlatformsBuild builds and vets the whole module, tests
// included, for the systems planb runs on besides Linux: Windows, where
// CAST AIP nodes run, and macOS. Code behind build tags is compiled only
// for its own system, so without this test a change could break them
// unseen.
func TestOtherPlatformsBuild(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		pgtest.Missing(t, "go is not on PATH: %v", err)
	}
	for _, p := range []struct{ goos, goarch string }{
		{"windows", "amd64"},
		{"darwin", "arm64"},
	} {
		t.Run(p.goos+"_"+p.goarch, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
				cmd := exec.Command(goTool, args...)
				cmd.Env = append(os.Environ(), "GOOS="+p.goos, "GOARCH="+p.goarch, "CGO_ENABLED=0")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("GOOS=%s GOARCH=%s go %s: %v\n%s", p.goos, p.goarch, strings.Join(args, " "), err, out)
				}
			}
		})
	}
}
