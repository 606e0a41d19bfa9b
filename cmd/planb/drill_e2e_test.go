package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/archive"
)

// readDrill reads the drill record of a resource folder in a local store.
func readDrill(t *testing.T, root, folder string) plan.DrillRecord {
	t.Helper()
	var rec plan.DrillRecord
	data, err := os.ReadFile(filepath.Join(root, "records", folder, plan.DrillRecordName))
	if err != nil {
		t.Fatalf("drill record of %s: %v", folder, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("drill record of %s: %v\n%s", folder, err, data)
	}
	return rec
}

// editManifest rewrites the archive at path with its manifest changed by
// edit; every other entry is copied as it was.
func editManifest(t *testing.T, path string, edit func(m *archive.Manifest)) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src.zip")
	if err := os.WriteFile(src, mustRead(t, path), 0o600); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	var m archive.Manifest
	for _, f := range zr.File {
		if f.Name == archive.ManifestName {
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
		}
	}
	zr.Close()
	edit(&m)
	data, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	rewriteArchive(t, src, path, func(name string) bool { return name == archive.ManifestName },
		func(zw *zip.Writer) { addFile(t, zw, archive.ManifestName, 0o600, data) })
}

// scratchDatabases counts the databases drills create.
func scratchDatabases(t *testing.T, e *estate) int {
	t.Helper()
	var n int
	if err := e.srv.Conn(t, "postgres").QueryRow(context.Background(),
		`SELECT count(*) FROM pg_database WHERE datname LIKE 'planb_drill%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDrillEndToEnd: a drill block is planned, applied and recorded in the
// store; the next plan sees it done, list and the metrics show it. A drill
// of an archive whose manifest claims a table its dump lacks fails the
// apply saying so, and one of an archive with a flipped byte fails as
// damaged; the next plan knows both.
func TestDrillEndToEnd(t *testing.T) {
	e := newEstate(t, `
drill "hourly" {
  every        = "1h"
  applications = [application.shop, persistence.console, persistence.node1]
  window       = "30d"
}
`)
	addPersistence(t, e, map[string]string{"aip.mv.db": "h2 data", "trace/trace.db": strings.Repeat("t", 3000)})
	t0 := "2026-11-25T08:00:00Z"
	metrics := filepath.Join(t.TempDir(), "planb.prom")

	r := e.mustPlanb(t, 2, "plan", "--detailed-exitcode", "--now", t0)
	for _, want := range []string{
		"* drill application.shop from store.node (drill.hourly)",
		"archive shop_2026-11-25-08-00-00.zip (the new backup: no store holds an archive to drill yet)",
		"because no drill yet",
		"after  the backup of application.shop into store.node",
		"3 to drill",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	r = e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", t0, "--metrics-file", metrics)
	if !strings.Contains(r.stdout, "drill shop_2026-11-25-08-00-00.zip from store.node") && !strings.Contains(r.stderr, "drill shop_2026-11-25-08-00-00.zip from store.node") {
		t.Errorf("apply does not show the drill step:\n%s\n%s", r.stdout, r.stderr)
	}

	// The evidence is in the store.
	rec := readDrill(t, e.backups, "applications/shop")
	if rec.Result != plan.DrillOK || rec.Archive != "shop_2026-11-25-08-00-00.zip" || rec.Store != "node" || rec.Number != 1 || rec.Drill != "hourly" {
		t.Errorf("shop's drill record: %+v", rec)
	}
	checks := map[string]plan.DrillCheck{}
	for _, c := range rec.Checks {
		checks[c.Check] = c
	}
	for _, s := range shopSchemas {
		if c := checks["schema "+s]; c.Result != plan.DrillOK || c.Tables == 0 || c.Rows == 0 {
			t.Errorf("check of schema %s: %+v", s, c)
		}
	}
	if c := checks["delivery/"]; c.Result != plan.DrillOK || c.Files != 4 || c.Bytes == 0 {
		t.Errorf("check of the delivery folder: %+v", c)
	}
	if rec.Durations.Restore <= 0 || rec.Durations.Total < rec.Durations.Restore || !rec.LastSuccess.Equal(rec.Time) {
		t.Errorf("durations %+v, last success %v", rec.Durations, rec.LastSuccess)
	}
	console := readDrill(t, e.backups, "persistence/console")
	if len(console.Checks) != 2 || console.Checks[1].Check != "database "+console.Checks[1].Check[len("database "):] ||
		console.Checks[1].Tables != 2 || console.Checks[1].Rows != 3 || console.Result != plan.DrillOK {
		t.Errorf("console's drill record: %+v", console)
	}
	node1 := readDrill(t, e.backups, "persistence/node1")
	if len(node1.Checks) != 2 || node1.Checks[1].Check != "files/" || node1.Checks[1].Files != 2 || node1.Checks[1].Bytes != 3007 || node1.Result != plan.DrillOK {
		t.Errorf("node1's drill record: %+v", node1)
	}
	if n := scratchDatabases(t, e); n != 0 {
		t.Errorf("%d scratch databases left behind", n)
	}
	prom := string(mustRead(t, metrics))
	for _, want := range []string{
		`planb_drill_success{resource="application.shop",drill="hourly"} 1`,
		`planb_drill_last_timestamp_seconds{resource="persistence.console",drill="hourly"} 1795593600`,
		`planb_drill_duration_seconds{resource="persistence.node1",drill="hourly"}`,
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("metrics lack %q:\n%s", want, prom)
		}
	}

	// The next plan sees the drills done.
	r = e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--now", "2026-11-25T08:30:00Z")
	if !strings.Contains(r.stdout, "application.shop (drill.hourly): last drill 30m ago, every 1h (ok, shop_2026-11-25-08-00-00.zip from store.node)") {
		t.Errorf("plan half an hour later:\n%s", r.stdout)
	}
	r = e.mustPlanb(t, 0, "list")
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "application.shop drill.hourly 2026-11-25T08:00:00Z shop_2026-11-25-08-00-00.zip node") {
		t.Errorf("list lacks shop's drill:\n%s", r.stdout)
	}
	r = e.mustPlanb(t, 0, "list", "--json", "application.shop")
	var doc struct {
		Drills []struct{ Resource, Drill, Result, Archive string } `json:"drills"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if len(doc.Drills) != 1 || doc.Drills[0].Resource != "application.shop" || doc.Drills[0].Result != "ok" {
		t.Errorf("list --json application.shop: %+v", doc.Drills)
	}

	// The archive's manifest claims a table the dump lacks: the drill
	// fails, naming it, and records that.
	shopZip := filepath.Join(e.backups, "applications", "shop", "shop_2026-11-25-08-00-00.zip")
	editManifest(t, shopZip, func(m *archive.Manifest) {
		for i := range m.Schemas {
			if m.Schemas[i].Name == shop.Management {
				m.Schemas[i].TableList = append(m.Schemas[i].TableList, archive.TableInfo{Name: "ghost", RowEstimate: 5})
				m.Schemas[i].Tables++
			}
		}
	})
	r = e.mustPlanb(t, 1, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T10:00:00Z")
	if !strings.Contains(r.stdout, "because last drill 2h ago, every 1h") {
		t.Errorf("the drill is not due for its age:\n%s", r.stdout)
	}
	if out := r.stdout + r.stderr; !strings.Contains(out, "schema shop_mngt: table ghost is missing") {
		t.Errorf("the failed drill does not say what differed:\n%s", out)
	}
	rec = readDrill(t, e.backups, "applications/shop")
	if rec.Result != plan.DrillFailed || rec.Number != 2 || len(rec.History) != 1 || rec.History[0].Result != plan.DrillOK ||
		!strings.Contains(strings.Join(rec.Problems, "\n"), "table ghost is missing") || rec.LastSuccess.Format("15:04") != "08:00" {
		t.Errorf("record of the failed drill: %+v", rec)
	}
	if n := scratchDatabases(t, e); n != 0 {
		t.Errorf("%d scratch databases left behind by the failed drill", n)
	}
	r = e.mustPlanb(t, 2, "plan", "--detailed-exitcode", "--target", "application.shop", "--now", "2026-11-25T10:01:00Z")
	if !strings.Contains(r.stdout, "because the last drill (1m ago) failed: schema shop_mngt: table ghost is missing") {
		t.Errorf("the next plan does not drill again after the failure:\n%s", r.stdout)
	}

	// A flipped byte: the drill fails as damaged, and the next plan leaves
	// the archive out, backs up anew and drills the new backup.
	data := mustRead(t, shopZip)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(shopZip, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.mustPlanb(t, 1, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T11:00:00Z")
	if out := r.stdout + r.stderr; !strings.Contains(out, "is damaged") {
		t.Errorf("the drill of a damaged archive does not say so:\n%s", out)
	}
	if rec := readDrill(t, e.backups, "applications/shop"); rec.Result != plan.DrillFailed || rec.Checks[0].Check != "verify" || rec.Checks[0].Result != plan.DrillFailed {
		t.Errorf("record of the drill of a damaged archive: %+v", rec)
	}
	r = e.mustPlanb(t, 2, "plan", "--target", "application.shop", "--detailed-exitcode", "--now", "2026-11-25T11:01:00Z")
	for _, want := range []string{
		"+ backup application.shop into store.node",
		"archive shop_2026-11-25-11-01-00.zip (the new backup: no store holds an archive to drill yet)",
		"found by drill",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan after the damaged drill lacks %q:\n%s", want, r.stdout)
		}
	}
}
