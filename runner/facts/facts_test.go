package facts

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/facts/factstest"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// testEstate is a configuration of two applications (crm, drilled
// weekly, and hr) backed up into one local store in a temporary folder,
// and that store opened.
func testEstate(t *testing.T) (*Estate, store.Store) {
	t.Helper()
	sc := &config.Store{Name: "local", Local: &config.LocalStore{Path: t.TempDir()}}
	st, err := store.NewLocal("local", sc.Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Stores: map[string]*config.Store{"local": sc},
		Resources: []*config.Resource{
			{Kind: config.Application, Address: "application.crm", Name: "crm", Stores: []*config.Store{sc}},
			{Kind: config.Application, Address: "application.hr", Name: "hr", Stores: []*config.Store{sc}},
		},
		Drills: []*config.Drill{{Name: "weekly", Resources: []string{"application.crm", "application.hr"}}},
	}
	return &Estate{Config: cfg, Stores: map[string]store.Store{"local": st}}, st
}

func TestTargeted(t *testing.T) {
	rs := []*config.Resource{{Address: "application.all[\"A\"]"}, {Address: "application.b"}, {Address: "application.bb"}}
	if got := Targeted(rs, nil); len(got) != 3 {
		t.Errorf("no targets: %d resources, want all 3", len(got))
	}
	got := Targeted(rs, []string{"application.all", "application.b"})
	if len(got) != 2 || got[0] != rs[0] || got[1] != rs[1] {
		t.Errorf("targets: %v", got)
	}
}

func TestCatalogAndRecords(t *testing.T) {
	ctx := context.Background()
	e, st := testEstate(t)
	crm := catalog.Ref{Kind: "applications", Name: "crm"}
	name := catalog.ArchiveName("crm", t0)
	factstest.Put(t, st, crm, name, factstest.PlainZIP(t))

	cat, unreachable, err := e.Catalog(ctx, e.Config.Resources)
	if err != nil || len(unreachable) != 0 {
		t.Fatalf("catalog: %v, unreachable %v", err, unreachable)
	}
	if len(cat["local"]) != 1 || cat["local"][0].Name != name {
		t.Fatalf("catalog %+v", cat)
	}
	if _, _, err := (&Estate{Config: e.Config}).Catalog(ctx, e.Config.Resources); err == nil || err.Error() != "store.local is not open" {
		t.Errorf("catalog without the store opened: %v", err)
	}

	if err := runner.MarkDamaged(ctx, st, crm, plan.Damage{Archive: name, By: "verify", Problem: "crc"}); err != nil {
		t.Fatal(err)
	}
	damaged, err := e.Damage(ctx, cat, e.Config.Resources)
	if err != nil {
		t.Fatal(err)
	}
	if d := damaged["local"][crm.Key(name)]; d.Problem != "crc" {
		t.Errorf("damage facts %v", damaged)
	}
	// A resource outside the ones asked for is not read.
	if damaged, err := e.Damage(ctx, cat, e.Config.Resources[1:]); err != nil || len(damaged) != 0 {
		t.Errorf("damage of hr only: %v (%v)", damaged, err)
	}
	nodes, err := e.Nodes(ctx, cat, e.Config.Resources)
	if err != nil || len(nodes) != 0 {
		t.Errorf("nodes without a record: %v (%v)", nodes, err)
	}
}

func TestUnreachableNamesAndUnlisted(t *testing.T) {
	down := map[string]string{"s3b": "timeout", "s3a": "connection refused"}
	if got := strings.Join(UnreachableNames(down), ","); got != "s3a,s3b" {
		t.Errorf("names %q", got)
	}
	err := Unlisted(down)
	want := "store.s3a could not be reached (connection refused): its archives are not listed; store.s3b could not be reached (timeout): its archives are not listed"
	if err == nil || err.Error() != want || !errors.As(err, new(*UnlistedError)) {
		t.Errorf("unlisted: %v", err)
	}
	if Unlisted(nil) != nil {
		t.Error("every store listed must be no error")
	}
	all := map[string]store.Store{"s3a": nil, "local": nil}
	if got := Reachable(all, down); len(got) != 1 {
		t.Errorf("reachable %v", got)
	}
}

func TestArchivesClassifies(t *testing.T) {
	ctx := context.Background()
	e, st := testEstate(t)
	crm := catalog.Ref{Kind: "applications", Name: "crm"}
	old := catalog.Ref{Kind: "applications", Name: "old"}
	adopted, damaged := catalog.ArchiveName("crm", t0), catalog.ArchiveName("crm", t0.Add(time.Hour))
	future := catalog.ArchiveName("crm", t0.Add(48*time.Hour))
	orphan := catalog.ArchiveName("old", t0)
	factstest.Put(t, st, crm, adopted, factstest.PlainZIP(t))
	factstest.Put(t, st, crm, damaged, []byte("not a zip"))
	factstest.Put(t, st, crm, future, []byte("not a zip"))
	factstest.Put(t, st, old, orphan, factstest.PlainZIP(t))

	rows, unreachable, err := e.Archives(ctx, "", true, t0.Add(2*time.Hour))
	if err != nil || len(unreachable) != 0 {
		t.Fatalf("archives: %v, unreachable %v", err, unreachable)
	}
	type seen struct {
		resource, archive, status string
		future                    bool
	}
	var got []seen
	for _, r := range rows {
		got = append(got, seen{r.Resource, r.Archive, r.Status, r.Future})
		if r.Handle != st || r.Ref.Name == "" {
			t.Errorf("%s: no store handle or folder", r.Archive)
		}
	}
	want := []seen{
		{"application.crm", adopted, plan.ArchiveAdopted, false},
		{"application.crm", damaged, plan.ArchiveDamaged, false},
		{"application.crm", future, plan.ArchiveDamaged, true},
		{"", orphan, plan.ArchiveOrphaned, false},
	}
	if len(got) != len(want) {
		t.Fatalf("rows %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// A shared store holds other configurations' archives: foreign.
	e.Config.Stores["local"].Shared = true
	rows, _, err = e.Archives(ctx, "applications/old", false, t0)
	if err != nil || len(rows) != 1 || rows[0].Status != plan.ArchiveForeign {
		t.Errorf("shared store: %+v (%v)", rows, err)
	}
	if _, _, err := e.Archives(ctx, "nothing", false, t0); err == nil || err.Error() != `no archive matches "nothing"` {
		t.Errorf("a filter matching nothing: %v", err)
	}
}

func TestInterruptedRestore(t *testing.T) {
	ctx := context.Background()
	e, st := testEstate(t)
	crm := e.Config.Resources[0]
	if rec, err := e.InterruptedRestore(ctx, crm); rec != nil || err != nil {
		t.Fatalf("no record: %v (%v)", rec, err)
	}
	data, _ := json.Marshal(plan.RestoreRecord{Resource: crm.Address, Store: "local", Archive: "crm_x.zip"})
	if err := st.WriteRecord(ctx, plan.RefOf(crm), store.RestoreRecord, data); err != nil {
		t.Fatal(err)
	}
	rec, err := e.InterruptedRestore(ctx, crm)
	if err != nil || rec == nil || rec.Archive != "crm_x.zip" {
		t.Fatalf("record: %+v (%v)", rec, err)
	}
	if err := st.WriteRecord(ctx, plan.RefOf(crm), store.RestoreRecord, []byte("{")); err != nil {
		t.Fatal(err)
	}
	_, err = e.InterruptedRestore(ctx, crm)
	if err == nil || !strings.HasPrefix(err.Error(), "store.local: the record of an interrupted restore of application.crm is unreadable: ") {
		t.Errorf("unreadable record: %v", err)
	}
}

func TestListDrills(t *testing.T) {
	ctx := context.Background()
	e, st := testEstate(t)
	crm := e.Config.Resources[0]
	rec := plan.DrillRecord{Resource: crm.Address, Drill: "weekly", Number: 3,
		DrillSummary: plan.DrillSummary{Time: t0, Store: "local", Archive: "crm_x.zip", Result: "ok", DurationSeconds: 4}}
	data, _ := json.Marshal(rec)
	if err := st.WriteRecord(ctx, plan.RefOf(crm), plan.DrillRecordName, data); err != nil {
		t.Fatal(err)
	}
	rows, err := e.ListDrills(ctx, e.Stores, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if r := rows[0]; r.Resource != crm.Address || r.Result != "ok" || r.Number != 3 || r.Archive != "crm_x.zip" {
		t.Errorf("crm row %+v", r)
	}
	if r := rows[1]; r.Resource != "application.hr" || r.Result != DrillNever || !r.Time.IsZero() {
		t.Errorf("hr row %+v", r)
	}
	rows, err = e.ListDrills(ctx, e.Stores, map[string]bool{"application.hr": true})
	if err != nil || len(rows) != 1 || rows[0].Resource != "application.hr" {
		t.Errorf("filtered rows %+v (%v)", rows, err)
	}

	// Plans read the records only where the catalog holds archives.
	drills, err := e.Drills(ctx, plan.Catalog{}, e.Config.Resources)
	if err != nil || len(drills) != 0 {
		t.Errorf("drills without archives: %v (%v)", drills, err)
	}
	cat := plan.Catalog{"local": {{Ref: plan.RefOf(crm), Name: "crm_x.zip"}}}
	drills, err = e.Drills(ctx, cat, e.Config.Resources)
	if err != nil || drills[crm.Address] == nil || drills[crm.Address].Number != 3 {
		t.Errorf("drills: %v (%v)", drills, err)
	}
}

func TestNewestDrills(t *testing.T) {
	a := &plan.DrillRecord{DrillSummary: plan.DrillSummary{Time: t0}, Finished: t0.Add(time.Hour)}
	b := &plan.DrillRecord{DrillSummary: plan.DrillSummary{Time: t0}, Finished: t0.Add(2 * time.Hour)}
	c := &plan.DrillRecord{DrillSummary: plan.DrillSummary{Time: t0.Add(-time.Hour)}, Finished: t0.Add(3 * time.Hour)}
	got := NewestDrills(map[string][]*plan.DrillRecord{"x": {a, c, b}})
	if got["x"] != b {
		t.Errorf("newest %+v, want the later plan, then the later finish", got["x"])
	}
}
