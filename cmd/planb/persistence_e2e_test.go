package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/postgres"
)

// addPersistence adds to an estate a console database (dumped whole) and an
// H2 folder holding h2files, whose before and after hooks write "stop" and
// "start" lines to the hooks log.
func addPersistence(t *testing.T, e *estate, h2files map[string]string) (h2, hooks, consoleDB string) {
	t.Helper()
	h2 = t.TempDir()
	writeTree(t, h2, h2files)
	hooks = filepath.Join(t.TempDir(), "hooks.log")
	consoleDB = e.srv.CreateDatabase(t, "console")
	e.srv.Exec(t, consoleDB, `CREATE SCHEMA cfg; CREATE TABLE cfg.settings (k text PRIMARY KEY, v text);
		INSERT INTO cfg.settings VALUES ('a', '1'), ('b', '2'); CREATE TABLE public.nodes (id int); INSERT INTO public.nodes VALUES (1)`)
	f, err := os.OpenFile(filepath.Join(e.dir, "estate.hcl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, `
database "console" {
  host     = database.css.host
  port     = database.css.port
  user     = database.css.user
  password = var.css_password
  dbname   = %q
  sslmode  = "disable"
}

persistence "console" {
  database = database.console
}

persistence "node1" {
  path = %q
  before {
    command = ["sh", "-c", "echo stop >> %s"]
  }
  after {
    command = ["sh", "-c", "echo start >> %s"]
  }
}
`, consoleDB, h2, hooks, hooks)
	return h2, hooks, consoleDB
}

// TestPersistenceBackups backs up a whole persistence database and an H2
// folder between its before and after hooks, writes metrics and prints the
// step graph.
func TestPersistenceBackups(t *testing.T) {
	e := newEstate(t, "")
	h2, hooks, consoleDB := addPersistence(t, e, map[string]string{"aip.mv.db": strings.Repeat("H2 page ", 4096), "aip.trace.db": "trace"})

	r := e.mustPlanb(t, 0, "graph", "--now", "2026-11-25T08:00:00Z")
	for _, want := range []string{"digraph", `dump schema shop_local`, "run after hooks of persistence.node1", "->"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("graph lacks %q:\n%s", want, r.stdout)
		}
	}
	metrics := filepath.Join(t.TempDir(), "planb.prom")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--metrics-file", metrics,
		"--target", "persistence.console", "--target", "persistence.node1")

	log, _ := os.ReadFile(hooks)
	if string(log) != "stop\nstart\n" {
		t.Errorf("hooks ran as %q, want stop then start", log)
	}
	console := zips(t, e.backups, "persistence/console")
	node := zips(t, e.backups, "persistence/node1")
	if len(console) != 1 || len(node) != 1 {
		t.Fatalf("archives: %v %v", console, node)
	}
	list, _ := exec.Command("unzip", "-Z1", console[0]).Output()
	if !strings.Contains(string(list), "databases/"+consoleDB+".cssbackup") {
		t.Errorf("console archive:\n%s", list)
	}
	list, _ = exec.Command("unzip", "-Z1", node[0]).Output()
	if !strings.Contains(string(list), "files/aip.mv.db") {
		t.Errorf("H2 archive:\n%s", list)
	}
	m, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`planb_backup_success{resource="persistence.console",store="node"} 1`,
		`planb_backup_last_success_timestamp_seconds{resource="persistence.node1",store="node"} 1795593600`,
	} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}

	// A fifo cannot be archived: it is left out with a warning naming it,
	// and the backup succeeds.
	os.WriteFile(hooks, nil, 0o644)
	if err := mkfifo(filepath.Join(h2, "lock.fifo")); err != nil {
		t.Fatal(err)
	}
	r = e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-26T08:00:00Z", "--target", "persistence.node1")
	if !strings.Contains(r.stderr, "lock.fifo") || !strings.Contains(r.stderr, "named pipe") {
		t.Errorf("the backup does not warn about the fifo it left out:\n%s", r.stderr)
	}
	if log, _ := os.ReadFile(hooks); string(log) != "stop\nstart\n" {
		t.Errorf("around a copy that left out a fifo the hooks ran as %q", log)
	}
	if got := zips(t, e.backups, "persistence/node1"); len(got) != 2 {
		t.Errorf("archives after a backup that left out a fifo: %v", got)
	}

	// A failing copy (the folder is a file now) still runs the after
	// hook, and the backup fails without leaving an archive.
	os.WriteFile(hooks, nil, 0o644)
	if err := os.RemoveAll(h2); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h2, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.mustPlanb(t, 1, "apply", "--auto-approve", "--now", "2026-11-27T08:00:00Z", "--target", "persistence.node1")
	if !strings.Contains(r.stdout+r.stderr, h2) {
		t.Errorf("the failure does not name the folder:\n%s%s", r.stdout, r.stderr)
	}
	if log, _ := os.ReadFile(hooks); string(log) != "stop\nstart\n" {
		t.Errorf("after a failed copy the hooks ran as %q", log)
	}
	if got := zips(t, e.backups, "persistence/node1"); len(got) != 2 {
		t.Errorf("archives after a failed backup: %v", got)
	}
}

// TestInterruptRemovesPartials sends SIGINT to a running apply: it exits
// 130 and leaves no partial archive and no lock behind.
func TestInterruptRemovesPartials(t *testing.T) {
	e := newEstate(t, "")
	cmd := exec.Command(planbBin, "--chdir", e.dir, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--parallelism", "2")
	cmd.Env = append(os.Environ(), e.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until a partial archive exists, then interrupt.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(e.backups, "*", "*", "*.partial")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no partial archive appeared within 30 s:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("apply finished before the interrupt arrived: %v\n%s", err, out.String())
	}
	if ee.ExitCode() != 130 {
		t.Fatalf("exit %d, want 130\n%s", ee.ExitCode(), out.String())
	}
	if m, _ := filepath.Glob(filepath.Join(e.backups, "*", "*", "*.partial")); len(m) > 0 {
		t.Errorf("partials left after the interrupt: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(e.backups, "locks", "*", "*.lock")); len(m) > 0 {
		t.Errorf("locks left after the interrupt: %v", m)
	}
}

// TestRestorePersistenceAndMeasurement restores a whole persistence
// database, an H2 folder (between its hooks) and the measurement schema,
// and one application schema under another name.
func TestRestorePersistenceAndMeasurement(t *testing.T) {
	e := newEstate(t, "")
	h2, hooks, consoleDB := addPersistence(t, e, map[string]string{"aip.mv.db": "pages", "sub/aip.lock": "l"})
	measure := describeAll(t, e, "aip_measure")
	central := describeAll(t, e, "Legacy Central")
	tree := treeSnapshot(t, h2)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z")

	e.srv.Exec(t, consoleDB, `UPDATE cfg.settings SET v = 'damaged'`)
	e.srv.Exec(t, e.db, `DELETE FROM aip_measure.app_snapshots`)
	os.WriteFile(filepath.Join(h2, "aip.mv.db"), []byte("corrupt"), 0o644)
	os.WriteFile(hooks, nil, 0o644)

	for _, addr := range []string{"persistence.console", "persistence.node1", "measurement.health"} {
		planFile := filepath.Join(t.TempDir(), "restore.plan")
		e.mustPlanb(t, 0, "plan", "--restore", addr, "--out", planFile, "--now", "2026-11-25T09:00:00Z")
		e.mustPlanb(t, 0, "apply", planFile)
	}
	var v string
	e.srv.Conn(t, consoleDB).QueryRow(context.Background(), "SELECT string_agg(v, ',' ORDER BY k) FROM cfg.settings").Scan(&v)
	if v != "1,2" {
		t.Errorf("console settings after restore: %q", v)
	}
	assertSameSchemas(t, measure, describeAll(t, e, "aip_measure"))
	assertSameTree(t, tree, treeSnapshot(t, h2))
	if log, _ := os.ReadFile(hooks); !strings.HasPrefix(string(log), "stop\nstart\nstop\nstart\n") {
		// the safety backup's hooks, then the restore's
		t.Errorf("hooks around the H2 restore ran as %q", log)
	}

	// A schema restored under another name leaves the original alone.
	e.srv.Exec(t, e.db, `DELETE FROM "Legacy Central".snapshots WHERE id > 10`)
	damaged := describeAll(t, e, "Legacy Central")
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	r := e.mustPlanb(t, 0, "plan", "--restore", "application.legacy", "--schema", "dashboard=legacy_central_copy", "--out", planFile)
	if !strings.Contains(r.stdout, "schema legacy_central_copy (dumped as Legacy Central)") || !strings.Contains(r.stdout, "originals are not touched") {
		t.Errorf("mapped restore plan:\n%s", r.stdout)
	}
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameSchemas(t, damaged, describeAll(t, e, "Legacy Central"))
	copied, err := postgres.Describe(context.Background(), e.srv.Conn(t, e.db), "legacy_central_copy")
	if err != nil {
		t.Fatal(err)
	}
	if d := central["Legacy Central"].Diff(copied); len(d) > 0 {
		t.Errorf("copy under another name differs:\n%s", strings.Join(d, "\n"))
	}
}
