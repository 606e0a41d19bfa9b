package plan

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// TestCleanOnlyWhatNoRunWrites: a partial another run is writing is never
// cleaned, nor one no run recorded until it is old; the plan says whose
// each partial is.
func TestCleanOnlyWhatNoRunWrites(t *testing.T) {
	h := time.Hour
	gone := arch("node", "applications", "B", 3*h, true)
	live := arch("node", "applications", "B", 2*h, true)
	live.Live = true
	live.Writer = catalog.LockInfo{Host: "node-a", PID: 52, PIDNamespace: "pid:[4026532178]", RunID: "RUN-LIVE", Time: live.Time}
	recent := arch("node", "applications", "B", 4*h, true)
	recent.Writer, recent.ModTime = catalog.LockInfo{}, time.Now().Add(-h)
	old := arch("node", "applications", "B", 40*h, true)
	old.Writer, old.ModTime = catalog.LockInfo{}, time.Now().Add(-catalog.PartialAge-h)
	cat := Catalog{"node": {gone, live, recent, old, arch("node", "applications", "B", 30*h, false)}}
	p, err := Make(fixture(), cat, Options{Now: now, Targets: []string{"application.B"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `clean application.B node [` + old.Name + ` ` + gone.Name + `]
backup application.B node`
	if got := types(p); got != want {
		t.Fatalf("actions:\n%s\nwant:\n%s", got, want)
	}
	clean := p.Action("clean application.B store.node")
	if clean.Reason != "2 partial leftover(s) of interrupted runs" {
		t.Errorf("reason %q", clean.Reason)
	}
	for _, d := range clean.Delete {
		switch d.Archive {
		case gone.Name:
			if !strings.Contains(d.Why, "left by pid 4242 on host node-a (run RUN-GONE) since") || !strings.Contains(d.Why, "which no longer holds the lock") {
				t.Errorf("why %q", d.Why)
			}
		case old.Name:
			if !strings.Contains(d.Why, "left by an unknown run, unchanged since") {
				t.Errorf("why %q", d.Why)
			}
		}
	}
	var kept []PartialKept
	for _, r := range p.Resources {
		kept = append(kept, r.PartialsKept...)
	}
	if len(kept) != 2 || kept[0].Archive != recent.Name || kept[1].Archive != live.Name ||
		!strings.Contains(kept[1].Why, "being written by pid 52 on host node-a in pid:[4026532178] (run RUN-LIVE)") ||
		!strings.Contains(kept[0].Why, "cleaned once 24h old") {
		t.Errorf("partials kept: %+v", kept)
	}
	var buf bytes.Buffer
	if err := p.WriteHuman(&buf, Style{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, w := range []string{
		"delete " + gone.Name + " (partial, left by pid 4242 on host node-a (run RUN-GONE) since ",
		"Partial archives not cleaned:\n  application.B in store.node: " + recent.Name + ", left by an unknown run",
		"application.B in store.node: " + live.Name + ", being written by pid 52",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("plan output lacks %q:\n%s", w, out)
		}
	}
}
