package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crossEstate is the estate with references between shop's schemas (a
// type, a view, a foreign key, a function) and a view outside the
// application over its management schema.
func crossEstate(t *testing.T) *estate {
	t.Helper()
	e := newEstate(t, "")
	e.srv.Exec(t, e.db, `CREATE SCHEMA reports;
CREATE VIEW reports.version_list AS SELECT id, label FROM shop_mngt.versions;`)
	return e
}

// A restore never drops what its plan does not show: an object outside the
// restored schemas that depends on them makes the plan refuse, naming it;
// with --cascade the plan lists it and apply drops it and nothing else.
func TestRestoreOutsideDependents(t *testing.T) {
	e := crossEstate(t)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")
	before := describeAll(t, e, shopSchemas...)
	e.srv.Exec(t, e.db, `UPDATE shop_mngt.versions SET note = 'damaged'`)

	r := e.mustPlanb(t, 1, "plan", "--restore", "application.shop")
	for _, want := range []string{"view reports.version_list", "--cascade"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refused restore plan does not say %q:\n%s", want, r.stderr)
		}
	}
	// --schema management alone would cascade into the other two schemas
	// of the application: refused, naming their objects.
	r = e.mustPlanb(t, 1, "plan", "--restore", "application.shop", "--schema", "management")
	if !strings.Contains(r.stderr, "shop_local") || !strings.Contains(r.stderr, "shop_central") {
		t.Errorf("--schema management does not name the dependents in the other schemas:\n%s", r.stderr)
	}

	planFile := filepath.Join(t.TempDir(), "restore.plan")
	r = e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--cascade", "--out", planFile)
	if !strings.Contains(r.stdout, "also drops (--cascade)") || !strings.Contains(r.stdout, "view reports.version_list") {
		t.Fatalf("cascading plan does not list the view it drops:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "replaced together, in one transaction") {
		t.Errorf("plan does not say the schemas are replaced together:\n%s", r.stdout)
	}
	// A dependent that appears after the plan was made is not dropped:
	// apply refuses.
	e.srv.Exec(t, e.db, `CREATE VIEW reports.late AS SELECT id FROM shop_local.objects`)
	r = e.mustPlanb(t, 1, "apply", planFile)
	if !strings.Contains(r.stdout+r.stderr, "view reports.late") {
		t.Errorf("apply does not name the dependent that appeared after the plan:\n%s\n%s", r.stdout, r.stderr)
	}
	e.srv.Exec(t, e.db, `DROP VIEW reports.late`)
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--cascade", "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
	var n int
	if err := e.srv.Conn(t, e.db).QueryRow(context.Background(),
		"SELECT count(*) FROM pg_views WHERE schemaname = 'reports'").Scan(&n); err != nil || n != 0 {
		t.Errorf("views left in reports: %d (%v), want 0", n, err)
	}
}

// Schemas that reference each other restore together, repeatedly, at the
// default parallelism, identical to backup time; verify --deep restores
// them together too; a schema restored under another name brings its
// references along.
func TestRestoreCrossSchemaApplication(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")
	before := describeAll(t, e, shopSchemas...)
	extras := extrasAll(t, e, shopSchemas...)

	r := e.mustPlanb(t, 0, "verify", "--deep", "application.shop")
	if !strings.Contains(r.stdout, "shop_local: 5 tables") {
		t.Errorf("verify --deep does not report the test restore of the analysis schema:\n%s", r.stdout)
	}
	for i := range 3 {
		e.srv.Exec(t, e.db, `UPDATE shop_mngt.versions SET note = 'damaged'; DELETE FROM shop_local.object_grades WHERE grade > 3`)
		planFile := filepath.Join(t.TempDir(), "restore.plan")
		e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--from", "shop_2026-11-25-08-00-00.zip",
			"--no-safety-backup", "--out", planFile)
		e.mustPlanb(t, 0, "apply", planFile)
		assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
		assertSameExtras(t, extras, extrasAll(t, e, shopSchemas...))
		if t.Failed() {
			t.Fatalf("restore %d differs", i+1)
		}
	}

	// The analysis schema as a copy: its references to the two others
	// resolve to the live ones.
	planFile := filepath.Join(t.TempDir(), "copy.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--schema", "analysis=shop_local_copy", "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	var n int
	if err := e.srv.Conn(t, e.db).QueryRow(context.Background(),
		"SELECT count(*) FROM shop_local_copy.object_grades").Scan(&n); err != nil || n == 0 {
		t.Fatalf("rows in the copy of the analysis schema: %d (%v)", n, err)
	}
	assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
}

// Restores killed at random points inside the schema and folder steps —
// at least twenty kills that landed — are each finished by the default
// plan and apply: the application ends as in the archive, with nothing
// left behind.
func TestRestoreKilledAtRandomIsFinished(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")
	before := describeAll(t, e, shopSchemas...)
	tree := treeSnapshot(t, e.delivery)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)

	aims := []killAim{
		{event: "step_started", step: "/schemas"},
		{event: "step_finished", step: "/extract/" + e.delivery, unfinished: "/finish"},
		{event: "step_finished", step: "/schemas", unfinished: "/swap"},
		{event: "step_started", step: "/swap", unfinished: "/finish"},
	}
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	landed := 0
	for i := 0; landed < 20; i++ {
		if i >= 80 {
			t.Fatalf("only %d of %d kills landed", landed, i)
		}
		e.srv.Exec(t, e.db, fmt.Sprintf(`UPDATE shop_mngt.versions SET note = 'damaged %d'`, i))
		writeTree(t, e.delivery, map[string]string{"v9/added.txt": "not in the archive"})
		aim := aims[rng.IntN(len(aims))]
		aim.delay = time.Duration(rng.IntN(120)) * time.Millisecond
		e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--out", planFile)
		if missed := killApply(t, e, aim, "apply", "--json", planFile); missed != "" {
			t.Logf("kill %d at the %s (+%s) missed: %s", i, aim, aim.delay, missed)
		} else {
			landed++
		}
		// The default plan finishes it.
		e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--out", planFile)
		e.mustPlanb(t, 0, "apply", planFile)
		assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
		assertSameTree(t, tree, treeSnapshot(t, e.delivery))
		assertNoRestoreLeftovers(t, e)
		if t.Failed() {
			t.Fatalf("after kill %d at the %s (+%s)", i, aim, aim.delay)
		}
	}
}

// Restore planning and restores wait for a table lock at most
// --db-lock-timeout, then name the session holding it, and change nothing.
func TestRestoreLockTimeout(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--no-safety-backup", "--out", planFile)
	e.srv.Exec(t, e.db, `UPDATE shop_mngt.versions SET note = 'current'`)
	before := describeAll(t, e, shopSchemas...)

	holder := e.srv.Conn(t, e.db)
	ctx := context.Background()
	if _, err := holder.Exec(ctx, "SET application_name = 'nightly-report'; BEGIN; LOCK TABLE shop_local.objects IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--db-lock-timeout", "1s", "plan", "--restore", "application.shop", "--no-safety-backup"},
		{"--db-lock-timeout", "1s", "apply", planFile},
	} {
		start := time.Now()
		r := e.mustPlanb(t, 1, args...)
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("planb %s gave up after %s, want about the lock timeout", strings.Join(args, " "), d)
		}
		if out := r.stdout + r.stderr; !strings.Contains(out, `application "nightly-report"`) {
			t.Errorf("planb %s does not name the session holding the lock:\n%s", strings.Join(args, " "), out)
		}
	}
	if _, err := holder.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
}

// Safety backups are not backups: after two restores with keep_last = 2,
// the two real backups remain (the safety backups neither count nor are
// restored by default), and each restore restored the newest real backup.
func TestSafetyBackupsAcrossTwoRestores(t *testing.T) {
	e := newEstate(t, `
retention "two" {
  keep_last = 2
}
`)
	cfg := filepath.Join(e.dir, "estate.hcl")
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte(`schema   = "aip_measure"`), []byte("schema   = \"aip_measure\"\n  retention = retention.two"), 1)
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	first, second := "2026-11-20T08:00:00Z", "2026-11-28T08:00:00Z"
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "measurement.health", "--now", first)
	e.srv.Exec(t, e.db, `INSERT INTO aip_measure.app_snapshots VALUES ('second', '2026-11-28', 1.5)`)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "measurement.health", "--now", second)
	good := describeAll(t, e, "aip_measure")

	planFile := filepath.Join(t.TempDir(), "restore.plan")
	for i, now := range []string{"2026-11-29T08:00:00Z", "2026-11-29T09:00:00Z"} {
		e.srv.Exec(t, e.db, fmt.Sprintf(`DELETE FROM aip_measure.app_snapshots; INSERT INTO aip_measure.app_snapshots VALUES ('damage %d', '2026-11-29', 0)`, i))
		r := e.mustPlanb(t, 0, "plan", "--restore", "measurement.health", "--now", now, "--out", planFile)
		if !strings.Contains(r.stdout, "health_2026-11-28-08-00-00.zip") || !strings.Contains(r.stdout, ".safety.zip") {
			t.Fatalf("restore %d does not restore the newest real backup and take a safety backup:\n%s", i+1, r.stdout)
		}
		e.mustPlanb(t, 0, "apply", planFile)
		assertSameSchemas(t, good, describeAll(t, e, "aip_measure"))
		// Retention runs with the next apply: the real backups stay.
		e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "measurement.health", "--now", now)
	}
	var real, safety []string
	for _, z := range zips(t, e.backups, "measurement/health") {
		if strings.HasSuffix(z, ".safety.zip") {
			safety = append(safety, filepath.Base(z))
		} else {
			real = append(real, filepath.Base(z))
		}
	}
	if strings.Join(real, " ") != "health_2026-11-20-08-00-00.zip health_2026-11-28-08-00-00.zip" || len(safety) != 2 {
		t.Fatalf("after two restores with keep_last = 2: backups %v, safety backups %v; want both backups and two safety backups", real, safety)
	}
	r := e.mustPlanb(t, 0, "list", "measurement.health")
	if strings.Count(r.stdout, "(safety backup)") != 2 {
		t.Errorf("list does not mark the two safety backups:\n%s", r.stdout)
	}
}
