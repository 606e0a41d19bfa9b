package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// describeAll captures the definitions and ordered rows of schemas.
func describeAll(t *testing.T, e *estate, schemas ...string) map[string]*postgres.SchemaDescription {
	t.Helper()
	conn := e.srv.Conn(t, e.db)
	out := map[string]*postgres.SchemaDescription{}
	for _, s := range schemas {
		d, err := postgres.Describe(context.Background(), conn, s)
		if err != nil {
			t.Fatalf("describe %s: %v", s, err)
		}
		out[s] = d
	}
	return out
}

// extrasAll captures what describeAll leaves out of schemas: comments,
// owners, privileges, row-level security.
func extrasAll(t *testing.T, e *estate, schemas ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, s := range schemas {
		out[s] = e.srv.Extras(t, e.db, s)
	}
	return out
}

func assertSameExtras(t *testing.T, want, got map[string][]string) {
	t.Helper()
	for s, w := range want {
		if d := pgtest.DiffExtras(w, got[s]); len(d) > 0 {
			t.Errorf("comments, owners, privileges or policies of schema %s differ from backup time:\n%s", s, strings.Join(d, "\n"))
		}
	}
}

func assertSameSchemas(t *testing.T, want, got map[string]*postgres.SchemaDescription) {
	t.Helper()
	for s, w := range want {
		if d := w.Diff(got[s]); len(d) > 0 {
			t.Errorf("schema %s differs from backup time:\n%s", s, strings.Join(d, "\n"))
		}
	}
}

// treeSnapshot maps every entry of a folder to its mode and, for regular
// files, contents; symlinks to their targets, never followed; fifos,
// sockets and devices to their mode only.
func treeSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case info.IsDir():
			out[rel+"/"] = info.Mode().String()
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "symlink -> " + target
		case !info.Mode().IsRegular():
			out[rel] = info.Mode().String()
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = info.Mode().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func assertSameTree(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("delivery %s: differs after restore", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("delivery %s: left over after restore", k)
		}
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	e := newEstate(t, "")
	before := describeAll(t, e, shopSchemas...)
	extras := extrasAll(t, e, shopSchemas...)
	tree := treeSnapshot(t, e.delivery)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")

	// Damage: changed rows (firing triggers), rows deleted from partitions,
	// a dropped table with TOASTed rows, a dropped policy and grant, a
	// changed and a new file.
	e.srv.Exec(t, e.db, `
UPDATE shop_mngt.versions SET note = 'damaged', status = 'archived' WHERE id < 200;
DELETE FROM shop_central.metric_results WHERE metric_id % 3 = 0;
DROP TABLE shop_local.source_blobs;
DROP POLICY objects_no_jobs ON shop_local.objects;
REVOKE SELECT ON shop_central.latest_grades FROM planb_fixture_reader;
`)
	os.WriteFile(filepath.Join(e.delivery, "v1/src/MAIN.cob"), []byte("overwritten"), 0o644)
	os.WriteFile(filepath.Join(e.delivery, "v2/src/NEW.cob"), []byte("new"), 0o644)

	planFile := filepath.Join(t.TempDir(), "restore.plan")
	r := e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--out", planFile, "--now", "2026-11-25T10:00:00Z")
	for _, want := range []string{
		"restore application.shop from store.node",
		"shop_2026-11-25-08-00-00.zip",
		"schema shop_central",
		"drop and restore",
		"safety backup",
		"sync_snapshots",
		e.delivery,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("restore plan lacks %q:\n%s", want, r.stdout)
		}
	}
	e.mustPlanb(t, 0, "show", planFile)
	e.mustPlanb(t, 0, "apply", planFile)

	assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
	assertSameExtras(t, extras, extrasAll(t, e, shopSchemas...))
	assertSameTree(t, tree, treeSnapshot(t, e.delivery))
	opts, err := os.ReadFile(e.optionsFile)
	if err != nil {
		t.Fatalf("options not written: %v", err)
	}
	if !strings.Contains(string(opts), "efficiency") {
		t.Errorf("options.xml lacks the objectives:\n%s", opts)
	}
	// The after_restore hook ran against the restored dashboard.
	var n int
	if err := e.srv.Conn(t, e.db).QueryRow(context.Background(),
		"SELECT count(*) FROM aip_measure.app_snapshots WHERE app = 'shop' AND taken = current_date").Scan(&n); err != nil || n != 1 {
		t.Errorf("after_restore hook did not run: %d rows, %v", n, err)
	}
	// The safety backup holds the damaged state.
	if got := zips(t, e.backups, "applications/shop"); len(got) != 2 {
		t.Errorf("want the backup and the safety backup, got %v", got)
	}
	// The old copy of the delivery folder is gone.
	if m, _ := filepath.Glob(e.delivery + ".planb-*"); len(m) > 0 {
		t.Errorf("left over beside the delivery folder: %v", m)
	}
}

func TestRestorePlanIsStaleWhenLiveStateChanges(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.legacy", "--out", planFile)
	e.srv.Exec(t, e.db, `CREATE TABLE "Legacy-Mngt".extra (id int)`)
	r := e.mustPlanb(t, 1, "apply", planFile)
	if !strings.Contains(r.stderr, "stale plan") || !strings.Contains(r.stderr, "Legacy-Mngt") {
		t.Fatalf("changed live state not refused clearly:\n%s", r.stderr)
	}
}

func TestRestoreOneSchemaIntoAnotherDatabase(t *testing.T) {
	e := newEstate(t, "")
	before := describeAll(t, e, "Legacy Central")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	copyDB := e.srv.CreateDatabase(t, "copy")
	r := e.mustPlanb(t, 0, "plan", "--restore", "application.legacy", "--schema", "dashboard", "--to-database", copyDB, "--json")
	var doc struct {
		Restore struct {
			Schemas []struct{ Target string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Restore.Schemas) != 1 || doc.Restore.Schemas[0].Target != "Legacy Central" {
		t.Fatalf("restore plan schemas: %+v", doc.Restore.Schemas)
	}
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.legacy", "--schema", "dashboard", "--to-database", copyDB, "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	got, err := postgres.Describe(context.Background(), e.srv.Conn(t, copyDB), "Legacy Central")
	if err != nil {
		t.Fatal(err)
	}
	if d := before["Legacy Central"].Diff(got); len(d) > 0 {
		t.Errorf("copy differs:\n%s", strings.Join(d, "\n"))
	}
	// No safety backup for a copy elsewhere.
	if got := zips(t, e.backups, "applications/legacy"); len(got) != 1 {
		t.Errorf("archives after a restore elsewhere: %v", got)
	}
}

func TestAdoptedArchiveRestores(t *testing.T) {
	e := newEstate(t, "")
	before := describeAll(t, e, "Legacy-Mngt")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	ours := zips(t, e.backups, "applications/legacy")[0]

	// Rebuild the archive the way the original system does: zip -r of a
	// folder of dumps, no manifest, named after the application and time.
	stage := t.TempDir()
	out, err := exec.Command("unzip", "-q", ours, "schemas/*", "-d", stage).CombinedOutput()
	if err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	adopted := filepath.Join(e.backups, "applications/legacy/legacy_2026-11-20-08-00-00.zip")
	zip := exec.Command("zip", "-q", "-r", adopted, "schemas")
	zip.Dir = stage
	if out, err := zip.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v\n%s", err, out)
	}
	r := e.mustPlanb(t, 0, "list", "legacy_2026-11-20-08-00-00")
	if !strings.Contains(r.stdout, "adopted") {
		t.Fatalf("list does not show the archive as adopted:\n%s", r.stdout)
	}
	e.srv.Exec(t, e.db, `DELETE FROM "Legacy-Mngt"."Versions"`)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.legacy", "--from", "legacy_2026-11-20-08-00-00.zip", "--out", planFile, "--no-safety-backup")
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameSchemas(t, before, describeAll(t, e, "Legacy-Mngt"))
}

func TestRestoreKilledCanBeAppliedAgain(t *testing.T) {
	e := newEstate(t, "")
	before := describeAll(t, e, shopSchemas...)
	tree := treeSnapshot(t, e.delivery)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")
	e.srv.Exec(t, e.db, `DROP TABLE shop_central.cache_entries; UPDATE shop_mngt.versions SET note = 'x'`)

	damaged := describeAll(t, e, shopSchemas...)

	// Kill restores as the schemas start to be restored, and once the
	// delivery folder is extracted beside its target while they still are.
	// The schemas are replaced in one transaction: a kill leaves them as
	// they were.
	killPlan := filepath.Join(t.TempDir(), "r.plan")
	replan := func() []string {
		e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--no-safety-backup", "--out", killPlan)
		return []string{"apply", "--json", killPlan}
	}
	for _, aim := range []killAim{
		{event: "step_started", step: "/schemas"},
		{event: "step_finished", step: "/extract/" + e.delivery, unfinished: "/schemas"},
	} {
		killUntilLanded(t, e, aim, replan, nil)
		assertSameSchemas(t, damaged, describeAll(t, e, shopSchemas...))
		assertSameTree(t, tree, treeSnapshot(t, e.delivery))
	}
	// Killed once the schemas committed and before the folder is swapped
	// in, the restore is half done: the next default plan says so and
	// finishes it from the same archive, without a safety backup of the
	// half-restored state.
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--out", killPlan)
	killUntilLanded(t, e, killAim{event: "step_finished", step: "/schemas", unfinished: "/swap"}, func() []string {
		return []string{"apply", "--json", killPlan}
	}, nil)
	assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))

	// A schema that an interrupted restore of an earlier version moved
	// aside is named by the next restore plan, and dropped once it
	// succeeded.
	e.srv.Exec(t, e.db, `CREATE SCHEMA planb_old_0123456789abcdef;
COMMENT ON SCHEMA planb_old_0123456789abcdef IS 'planb: previous contents of schema shop_mngt, moved aside at 2026-11-25T09:00:00Z'`)

	// The lock of the killed process is stale; a new default plan and
	// apply finish the restore.
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	r := e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--out", planFile)
	for _, want := range []string{
		"Left by interrupted restores",
		"schema planb_old_0123456789abcdef: planb: previous contents of schema shop_mngt",
		"finishing the restore from this archive",
		"No safety backup: finishing an interrupted restore",
		e.delivery + ".planb-restore-",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the restore plan after kills lacks %q:\n%s", want, r.stdout)
		}
	}
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
	assertSameTree(t, tree, treeSnapshot(t, e.delivery))
	assertNoRestoreLeftovers(t, e)
}

// assertNoRestoreLeftovers checks that no restore left anything behind: no
// schema moved aside, no folder beside the delivery folder, no restore
// record, and that the next restore plan names nothing interrupted.
func assertNoRestoreLeftovers(t *testing.T, e *estate) {
	t.Helper()
	var n int
	if err := e.srv.Conn(t, e.db).QueryRow(context.Background(),
		"SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'planb_old_')").Scan(&n); err != nil || n != 0 {
		t.Errorf("schemas moved aside left: %d (%v)", n, err)
	}
	siblings, err := filepath.Glob(e.delivery + ".planb-*")
	if err != nil || len(siblings) != 0 {
		t.Errorf("folders left beside the delivery folder: %v (%v)", siblings, err)
	}
	if _, err := os.Stat(filepath.Join(e.backups, "records", "applications", "shop", "restore.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the restore record is still in the store (%v)", err)
	}
	r := e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--no-safety-backup")
	if strings.Contains(r.stdout, "interrupted") || strings.Contains(r.stdout, "finishing") {
		t.Errorf("a restore plan after a finished restore still speaks of an interrupted one:\n%s", r.stdout)
	}
}

func TestVerifyDeep(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	r := e.mustPlanb(t, 0, "verify", "--deep", "application.legacy")
	if !strings.Contains(r.stdout, "restored Legacy-Mngt: 1 tables, 2 rows") {
		t.Errorf("verify --deep does not report the test restore:\n%s", r.stdout)
	}
	// Scratch databases are dropped again.
	scratchLeft := func() int {
		t.Helper()
		var n int
		if err := e.srv.Conn(t, "postgres").QueryRow(context.Background(),
			"SELECT count(*) FROM pg_database WHERE starts_with(datname, 'planb_verify')").Scan(&n); err != nil {
			t.Fatalf("count scratch databases: %v", err)
		}
		return n
	}
	if n := scratchLeft(); n != 0 {
		t.Errorf("%d scratch databases left", n)
	}

	// Flip one byte in the middle of the archive.
	z := zips(t, e.backups, "applications/legacy")[0]
	b := mustRead(t, z)
	b[len(b)/3] ^= 0xff
	if err := os.WriteFile(z, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.mustPlanb(t, 1, "verify", "--deep")
	if !strings.Contains(r.stdout, "FAILED  store.node applications/legacy/"+filepath.Base(z)) {
		t.Errorf("a corrupted archive is not named:\n%s", r.stdout)
	}
	if n := scratchLeft(); n != 0 {
		t.Errorf("%d scratch databases left after a failed verify", n)
	}
}
