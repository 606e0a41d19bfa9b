package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyFailsWhenMetricsCannotBeWritten applies a backup whose metrics
// file cannot be written: the backup lands, but apply exits 1 and says why,
// so that monitoring that reads the file does not miss the run silently.
func TestApplyFailsWhenMetricsCannotBeWritten(t *testing.T) {
	e := newEstate(t, "")
	metrics := filepath.Join(t.TempDir(), "no such folder", "planb.prom")
	r := e.mustPlanb(t, exitError, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z",
		"--target", "application.shop", "--metrics-file", metrics)
	if !strings.Contains(r.stderr, "write metrics") || !strings.Contains(r.stderr, "no such folder") {
		t.Errorf("stderr does not say the metrics could not be written:\n%s", r.stderr)
	}
	if got := zips(t, e.backups, "applications/shop"); len(got) != 1 {
		t.Errorf("archives of shop: %v, want the one the apply made", got)
	}
}
