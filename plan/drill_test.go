package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// drillFixture is fixture() with application.A (stores node, offsite)
// drilled by drill "weekly".
func drillFixture(window time.Duration) *config.Config {
	cfg := fixture()
	cfg.Drills = []*config.Drill{{Name: "weekly", Every: 7 * 24 * time.Hour, Window: window, Resources: []string{"application.A"}}}
	return cfg
}

// drillOf returns the plan's drill action, or nil.
func drillOf(p *Plan) *Action {
	for _, a := range p.Actions {
		if a.Type == Drill {
			return a
		}
	}
	return nil
}

// lastDrill is a record of a drill made age before now.
func lastDrill(age time.Duration, result string, number int) *DrillRecord {
	r := &DrillRecord{FormatVersion: DrillRecordVersion, Resource: "application.A", Drill: "weekly", Number: number}
	r.Time, r.Store, r.Archive, r.Result = now.Add(-age), "node", "A_old.zip", result
	if result == DrillFailed {
		r.Problems = []string{"table a_mngt.t is missing"}
	}
	return r
}

func TestDrillDue(t *testing.T) {
	h := time.Hour
	// A is fresh in both stores: nothing but drills is due for it.
	cat := Catalog{
		"node":    {arch("node", "applications", "A", 2*h, false)},
		"offsite": {arch("offsite", "applications", "A", 2*h, false)},
		"":        nil,
	}
	cases := map[string]struct {
		last   *DrillRecord
		due    bool
		reason string
	}{
		"no drill yet":    {nil, true, "no drill yet"},
		"drill is old":    {lastDrill(8*24*h, DrillOK, 3), true, "last drill 8d ago, every 7d"},
		"drill is recent": {lastDrill(2*24*h, DrillOK, 3), false, "last drill 2d ago, every 7d"},
		"last failed":     {lastDrill(h, DrillFailed, 3), true, "the last drill (1h ago) failed: table a_mngt.t is missing"},
		"dated ahead":     {lastDrill(-3*24*h, DrillOK, 3), true, "the last drill is dated 3d after now"},
		"a little ahead":  {lastDrill(-2*time.Minute, DrillOK, 3), false, "last drill dated 2m after now, every 7d"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var facts map[string]*DrillRecord
			if tc.last != nil {
				facts = map[string]*DrillRecord{"application.A": tc.last}
			}
			p, err := Make(drillFixture(0), cat, Options{Now: now, Targets: []string{"application.A"}, Drills: facts})
			if err != nil {
				t.Fatal(err)
			}
			a := drillOf(p)
			st := p.DrillStateOf("application.A")
			if st == nil || st.Drill != "weekly" {
				t.Fatalf("drill state: %+v", p.Drills)
			}
			if (a != nil) != tc.due {
				t.Fatalf("drill action %+v, want due=%v", a, tc.due)
			}
			if st.Reason != tc.reason {
				t.Errorf("reason %q, want %q", st.Reason, tc.reason)
			}
			var out bytes.Buffer
			if err := p.WriteHuman(&out, Style{}); err != nil {
				t.Fatal(err)
			}
			if !tc.due {
				if st.Status != DrillUpToDate || p.HasChanges() {
					t.Errorf("status %q, changes %v", st.Status, p.HasChanges())
				}
				if want := "application.A (drill.weekly): " + tc.reason + " (ok, A_old.zip from store.node)"; !strings.Contains(out.String(), want) {
					t.Errorf("plan lacks %q:\n%s", want, out.String())
				}
				return
			}
			if a.Reason != tc.reason || a.Store != "node" || a.Archive != cat["node"][0].Name || st.Status != DrillDue {
				t.Errorf("action %+v, state %+v", a, st)
			}
			wantNumber := 1
			if tc.last != nil {
				wantNumber = tc.last.Number + 1
			}
			if a.Drill.Number != wantNumber || a.Drill.Database != "css" || a.Drill.Choice != "the newest archive" || a.ID != "drill application.A store.node" {
				t.Errorf("drill %+v", a.Drill)
			}
			for _, want := range []string{
				"* drill application.A from store.node (drill.weekly)",
				"archive " + a.Archive + " (the newest archive)",
				"because " + tc.reason,
				"Plan: 0 to back up, 0 to prune, 1 to drill, 2 up to date.",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("plan lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestDrillChoice: the archive a drill takes, in its window, from the
// first store that holds it; never a safety backup, one dated in the
// future, a damaged one or one a prune of the plan deletes.
func TestDrillChoice(t *testing.T) {
	h, day := time.Hour, 24*time.Hour
	a := func(s string, age time.Duration) catalog.Archive { return arch(s, "applications", "A", age, false) }
	safety := a("node", h)
	safety.Name, safety.Safety = catalog.SafetyArchiveName("A", safety.Time), true
	future := a("node", -day)
	damagedArchive := a("node", 3*h)
	// node: 1d, 5d, 40d old; offsite holds a newer one (12h) and a copy of 5d.
	base := []catalog.Archive{a("node", 40*day), a("node", 5*day), a("node", day), safety, future, damagedArchive}
	cat := Catalog{"node": base, "offsite": {a("offsite", 5*day), a("offsite", 12*h)}}
	damaged := map[string]map[string]Damage{"node": {damagedArchive.Key(): {Problem: "bad"}}}
	name := func(age time.Duration) string { return catalog.ArchiveName("A", now.Add(-age)) }

	cases := map[string]struct {
		window     time.Duration
		number     int // the previous drill's number
		store      string
		archive    string
		candidates int
		choice     string
	}{
		"newest, whichever store": {0, 0, "offsite", name(12 * h), 1, "the newest archive"},
		"window, first drill":     {30 * day, 0, "offsite", name(12 * h), 3, "the newest of 3 archive(s) of the last 30d"},
		"window, second drill":    {30 * day, 1, "node", name(day), 3, "the 2nd newest of 3 archive(s) of the last 30d"},
		// The 5-day-old archive is in both stores: node comes first.
		"window, third drill":  {30 * day, 2, "node", name(5 * day), 3, "the 3rd newest of 3 archive(s) of the last 30d"},
		"window, fourth drill": {30 * day, 3, "offsite", name(12 * h), 3, "the newest of 3 archive(s) of the last 30d"},
		"wide window":          {60 * day, 3, "node", name(40 * day), 4, "the 4th newest of 4 archive(s) of the last 60d"},
	}
	for tname, tc := range cases {
		t.Run(tname, func(t *testing.T) {
			var facts map[string]*DrillRecord
			if tc.number > 0 {
				facts = map[string]*DrillRecord{"application.A": lastDrill(30*day, DrillOK, tc.number)}
			}
			opts := Options{Now: now, Targets: []string{"application.A"}, Drills: facts, Damaged: damaged}
			cfg := drillFixture(tc.window)
			cfg.Resources[0].Retention = nil // nothing pruned: see TestDrillSkipsPruned
			p, err := Make(cfg, cat, opts)
			if err != nil {
				t.Fatal(err)
			}
			d := drillOf(p)
			if d == nil {
				t.Fatalf("no drill:\n%s", types(p))
			}
			if d.Store != tc.store || d.Archive != tc.archive || d.Drill.Candidates != tc.candidates || d.Drill.Choice != tc.choice {
				t.Errorf("drill of %s from %s (%d candidates, %q), want %s from %s (%d, %q)",
					d.Archive, d.Store, d.Drill.Candidates, d.Drill.Choice, tc.archive, tc.store, tc.candidates, tc.choice)
			}
			// The same facts make the same choice.
			again, _ := Make(cfg, cat, opts)
			if d2 := drillOf(again); d2.Archive != d.Archive || d2.Store != d.Store {
				t.Errorf("a second plan drills %s from %s", d2.Archive, d2.Store)
			}
		})
	}
}

// TestDrillSkipsPruned: an archive a prune of the same plan deletes is
// never drilled.
func TestDrillSkipsPruned(t *testing.T) {
	day := 24 * time.Hour
	a := func(age time.Duration) catalog.Archive { return arch("node", "applications", "A", age, false) }
	cfg := drillFixture(30 * day)
	cfg.Resources[0].Stores = cfg.Resources[0].Stores[:1] // node only, keep_last 2
	cat := Catalog{"node": {a(3 * day), a(2 * day), a(day / 2)}}
	facts := map[string]*DrillRecord{"application.A": lastDrill(30*day, DrillOK, 2)}
	p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}, Drills: facts})
	if err != nil {
		t.Fatal(err)
	}
	d := drillOf(p)
	if d == nil || d.Drill.Candidates != 2 || d.Archive != cat["node"][2].Name {
		t.Fatalf("drill %+v\n%s", d, types(p))
	}
}

// TestDrillOfTheNewBackup: with no archive anywhere, the drill takes the
// archive the plan's backup writes, after it.
func TestDrillOfTheNewBackup(t *testing.T) {
	p, err := Make(drillFixture(0), Catalog{}, Options{Now: now, Targets: []string{"application.A"}})
	if err != nil {
		t.Fatal(err)
	}
	d := drillOf(p)
	if d == nil {
		t.Fatalf("no drill:\n%s", types(p))
	}
	backup := p.Action("backup application.A store.node")
	if backup == nil || d.Archive != backup.Archive || d.Store != "node" || len(d.DependsOn) != 1 || d.DependsOn[0] != backup.ID {
		t.Errorf("drill %+v after %v", d, d.DependsOn)
	}
	var out bytes.Buffer
	p.WriteHuman(&out, Style{})
	if want := "after  the backup of application.A into store.node"; !strings.Contains(out.String(), want) {
		t.Errorf("plan lacks %q:\n%s", want, out.String())
	}
}

// TestDrillWithoutArchive: a window no archive falls into is reported,
// not planned.
func TestDrillWithoutArchive(t *testing.T) {
	day := 24 * time.Hour
	cfg := drillFixture(2 * day)
	cfg.Resources[0].Every = 30 * day // not due: no backup to drill either
	cat := Catalog{"node": {arch("node", "applications", "A", 5*day, false)}, "offsite": {arch("offsite", "applications", "A", 5*day, false)}}
	p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := drillOf(p); d != nil {
		t.Fatalf("drill %+v", d)
	}
	st := p.DrillStateOf("application.A")
	want := "no drill yet; no archive to drill of the last 2d in store.node, store.offsite"
	if st.Status != DrillNoArchive || st.Reason != want {
		t.Errorf("state %+v, want reason %q", st, want)
	}
	var out bytes.Buffer
	p.WriteHuman(&out, Style{})
	if !strings.Contains(out.String(), "application.A (drill.weekly): cannot drill: "+want) {
		t.Errorf("plan:\n%s", out.String())
	}
}

// TestDrillPlanJSON: a drill action and the drill states survive a saved
// plan.
func TestDrillPlanJSON(t *testing.T) {
	p, err := Make(drillFixture(0), Catalog{"node": {arch("node", "applications", "A", time.Hour, false)}}, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	d := drillOf(&back)
	if d == nil || d.Drill == nil || d.Drill.Name != "weekly" || d.Drill.ArchiveTime.IsZero() || len(back.Drills) != 1 {
		t.Fatalf("after JSON: %s", data)
	}
	// Only application.A is drilled.
	if back.DrillStateOf("application.B") != nil {
		t.Errorf("application.B has a drill state")
	}
}

func TestDrillRecordJSON(t *testing.T) {
	r := lastDrill(time.Hour, DrillFailed, 4)
	r.Checks = []DrillCheck{{Check: "schema a_mngt", Result: DrillFailed, Tables: 2, Problems: []string{"table t is missing"}}}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"result":"failed"`, `"time":"2026-11-25T07:00:00Z"`, `"number":4`, `"check":"schema a_mngt"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("record lacks %s: %s", want, data)
		}
	}
	var back DrillRecord
	if err := json.Unmarshal(data, &back); err != nil || back.Result != DrillFailed || back.Store != "node" {
		t.Errorf("back: %+v, %v", back, err)
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 101: "101st", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}
