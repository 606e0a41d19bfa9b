package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// planbBin is the planb binary the end-to-end tests run as a child process,
// built once by TestMain.
var planbBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "planb-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	planbBin = filepath.Join(dir, "planb")
	args := []string{"build", "-o", planbBin}
	if os.Getenv("PLANB_TEST_RACE") != "" {
		// The end-to-end tests run the binary: build it with the race
		// detector when asked to.
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build planb: %v\n%s", err, out)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		defer pgtest.StopShared()
		return m.Run()
	}()
	os.Exit(code)
}

// estate is a seeded database with the configuration that backs it up.
type estate struct {
	srv     *pgtest.Server
	db      string
	dir     string // configuration directory
	backups string // local store root
	second  string // second local store root
	env     []string

	delivery    string // shop's delivery folder
	optionsFile string // where restores write shop's options.xml
}

// result is what one planb run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (e *estate) planb(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(planbBin, append([]string{"--chdir", e.dir}, args...)...)
	cmd.Env = append(os.Environ(), e.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run planb: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

func (e *estate) mustPlanb(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := e.planb(t, args...)
	if r.code != want {
		t.Fatalf("planb %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// shop names the schemas of application "shop": the project's fixture
// (pgtest.LoadEstate) is loaded into them.
var shop = pgtest.Estate{Management: "shop_mngt", Dashboard: "shop_central", Analysis: "shop_local", CrossSchema: true}

// shopSchemas are shop's schemas in the order management, dashboard,
// analysis.
var shopSchemas = []string{shop.Management, shop.Dashboard, shop.Analysis}

// newEstate seeds an application "shop" with the project's estate fixture
// (partitions, enums, domains, triggers, row-level security, grants, TOAST,
// non-ASCII names…), an application "legacy" whose schema names need
// quoting, a measurement schema, and a delivery folder with non-ASCII names.
func newEstate(t *testing.T, extra string) *estate {
	t.Helper()
	srv := pgtest.Start(t)
	e := &estate{srv: srv, dir: t.TempDir(), backups: t.TempDir(), second: t.TempDir()}
	e.db = srv.CreateDatabase(t, "estate")
	srv.LoadEstate(t, e.db, shop)
	srv.Exec(t, e.db, `
CREATE SCHEMA "Legacy-Mngt";
CREATE TABLE "Legacy-Mngt"."Versions" (id int PRIMARY KEY, "Name" text);
INSERT INTO "Legacy-Mngt"."Versions" VALUES (1, 'ü-one'), (2, 'two');
CREATE SCHEMA "Legacy Central";
CREATE TABLE "Legacy Central".snapshots (id int PRIMARY KEY, grade numeric(4,2));
INSERT INTO "Legacy Central".snapshots SELECT g, (g % 40) / 10.0 FROM generate_series(1, 300) g;
CREATE SCHEMA "Legacy.Local";
CREATE TABLE "Legacy.Local".objects (id bigint PRIMARY KEY, fullname text);
INSERT INTO "Legacy.Local".objects SELECT g, 'PRG' || g FROM generate_series(1, 1000) g;
CREATE SCHEMA "LegacyXLocal";
CREATE TABLE "LegacyXLocal".decoy (id int);
CREATE SCHEMA aip_measure;
CREATE TABLE aip_measure.app_snapshots (app text, taken date, grade numeric(4,2));
INSERT INTO aip_measure.app_snapshots VALUES ('shop', '2026-11-01', 3.2);
`)
	e.delivery = filepath.Join(t.TempDir(), "delivery")
	e.optionsFile = filepath.Join(t.TempDir(), "shop-options.xml")
	delivery := e.delivery
	writeTree(t, delivery, map[string]string{
		"v1/src/MAIN.cob":               "IDENTIFICATION DIVISION.\nPROGRAM-ID. MAIN.\n",
		"v1/src/Überweisung_日本.cob":     "PROGRAM-ID. UEBER.\n",
		"v2/src/MAIN.cob":               "IDENTIFICATION DIVISION.\nPROGRAM-ID. MAIN2.\n",
		"v2/docs/readme with space.txt": strings.Repeat("delivery text ", 1000),
	})
	e.env = []string{"PLANB_VAR_css_password=" + srv.Password}
	cfg := e.databaseHCL() + fmt.Sprintf(`
store "node" {
  local { path = %q }
}

application "shop" {
  database        = database.css
  schemas         = { management = "shop_mngt", dashboard = "shop_central", analysis = "shop_local" }
  delivery_folder = %q
  options {
    source_path        = "v2/src"
    exclusion_patterns = ["**/test/**"]
    objectives         = ["security", "efficiency"]
    file               = %q
  }
  every  = "24h"
  stores = [store.node]

  after_restore "sync_snapshots" {
    sql = <<-SQL
      DELETE FROM aip_measure.app_snapshots WHERE app = 'shop';
      INSERT INTO aip_measure.app_snapshots (app, taken, grade)
      SELECT 'shop', current_date, avg(avg_grade) FROM shop_central.snapshots;
    SQL
  }
}

application "legacy" {
  database = database.css
  schemas  = { management = "Legacy-Mngt", dashboard = "Legacy Central", analysis = "Legacy.Local" }
  every    = "24h"
  stores   = [store.node]
}

measurement "health" {
  database = database.css
  schema   = "aip_measure"
  every    = "168h"
  stores   = [store.node]
}
%s`, e.backups, delivery, e.optionsFile, extra)
	if err := os.WriteFile(filepath.Join(e.dir, "estate.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// databaseHCL declares the sensitive css_password variable and database
// "css": the estate's database on the test server.
func (e *estate) databaseHCL() string {
	return fmt.Sprintf(`
variable "css_password" {
  type      = string
  sensitive = true
}

database "css" {
  host     = %q
  port     = %d
  user     = %q
  password = var.css_password
  dbname   = %q
  sslmode  = "disable"
  bin_dir  = %q
}
`, e.srv.Host, e.srv.Port, e.srv.User, e.db, e.srv.BinDir)
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// zips returns the archives of a resource folder in a store root, sorted.
func zips(t *testing.T, root, folder string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, folder, "*.zip"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func TestBackupEndToEnd(t *testing.T) {
	e := newEstate(t, "")
	now := "2026-11-25T08:00:00Z"

	r := e.mustPlanb(t, 2, "plan", "--detailed-exitcode", "--now", now)
	for _, want := range []string{
		"backup application.shop into store.node",
		"shop_2026-11-25-08-00-00.zip",
		"no backup yet",
		"Plan: 3 to back up, 0 to prune, 0 up to date.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}

	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", now)
	for _, folder := range []string{"applications/shop", "applications/legacy", "measurement/health"} {
		got := zips(t, e.backups, folder)
		if len(got) != 1 {
			t.Fatalf("%s: %d archives, want 1: %v", folder, len(got), got)
		}
		out, err := exec.Command("unzip", "-t", got[0]).CombinedOutput()
		if err != nil {
			t.Fatalf("unzip -t %s: %v\n%s", got[0], err, out)
		}
	}

	// The dumps restore with plain pg_restore to identical definitions and
	// rows; shop's schemas reference each other, so they go one after the
	// other: management, dashboard, analysis.
	shop := zips(t, e.backups, "applications/shop")[0]
	legacy := zips(t, e.backups, "applications/legacy")[0]
	t.Run("pg_restore shop", func(t *testing.T) { assertRestoresIdentical(t, e, shop, shopSchemas...) })
	for _, s := range []string{"Legacy-Mngt", "Legacy Central", "Legacy.Local"} {
		t.Run("pg_restore "+s, func(t *testing.T) { assertRestoresIdentical(t, e, legacy, s) })
	}
	listing, err := exec.Command("unzip", "-Z1", legacy).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(listing), "LegacyXLocal") {
		t.Errorf("the dump of Legacy.Local also holds LegacyXLocal: schema names were used as patterns")
	}
	shopList, _ := exec.Command("unzip", "-Z1", shop).Output()
	for _, want := range []string{"manifest.json", "options.xml", "index/delivery.json", "schemas/shop_local.cssbackup"} {
		if !strings.Contains(string(shopList), want) {
			t.Errorf("archive lacks %s:\n%s", want, shopList)
		}
	}
	// The delivery folder is kept in the store's packs (incremental, the
	// default); the archive's index lists its files.
	index, _ := exec.Command("unzip", "-p", shop, "index/delivery.json").Output()
	if !strings.Contains(string(index), `"path":"v1/src/Überweisung_日本.cob"`) {
		t.Errorf("the delivery index lacks v1/src/Überweisung_日本.cob:\n%.2000s", index)
	}

	// Nothing is due right after, and the next day everything is.
	e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--now", "2026-11-25T09:00:00Z")
	r = e.mustPlanb(t, 2, "plan", "--detailed-exitcode", "--now", "2026-11-26T09:00:00Z")
	if !strings.Contains(r.stdout, "newest is 25h old, every 24h") {
		t.Errorf("plan 25 hours later lacks the reason:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "Plan: 2 to back up, 0 to prune, 1 up to date.") {
		t.Errorf("plan 25 hours later: wrong summary:\n%s", r.stdout)
	}

	r = e.mustPlanb(t, 0, "list", "--json")
	var doc struct {
		FormatVersion string `json:"format_version"`
		Archives      []struct {
			Resource, Store, Archive, Status string
		} `json:"archives"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if len(doc.Archives) != 3 {
		t.Fatalf("list: %d archives, want 3: %s", len(doc.Archives), r.stdout)
	}
	for _, a := range doc.Archives {
		if a.Status != "complete" {
			t.Errorf("list: %s is %s, want complete", a.Archive, a.Status)
		}
	}
	e.mustPlanb(t, 0, "verify")
}

// assertRestoresIdentical restores the dumps of schemas with plain
// pg_restore, one after the other in the order given (the order of their
// references to each other), into a fresh database and compares each with
// the original.
func assertRestoresIdentical(t *testing.T, e *estate, archivePath string, schemas ...string) {
	t.Helper()
	target := e.srv.CreateDatabase(t, "restored")
	for _, schema := range schemas {
		dump := filepath.Join(t.TempDir(), "dump")
		entry := "schemas/" + schema + ".cssbackup"
		out, err := exec.Command("unzip", "-p", archivePath, entry).Output()
		if err != nil {
			t.Fatalf("unzip -p %s %s: %v", archivePath, entry, err)
		}
		if err := os.WriteFile(dump, out, 0o600); err != nil {
			t.Fatal(err)
		}
		restore := exec.Command(filepath.Join(binDirOr(e.srv.BinDir), "pg_restore"),
			"-h", e.srv.Host, "-p", strconv.Itoa(e.srv.Port), "-U", e.srv.User, "-d", target, "--exit-on-error", dump)
		restore.Env = append(os.Environ(), "PGPASSWORD="+e.srv.Password)
		if out, err := restore.CombinedOutput(); err != nil {
			t.Fatalf("pg_restore %s: %v\n%s", schema, err, out)
		}
	}
	ctx := context.Background()
	for _, schema := range schemas {
		want, err := postgres.Describe(ctx, e.srv.Conn(t, e.db), schema)
		if err != nil {
			t.Fatal(err)
		}
		got, err := postgres.Describe(ctx, e.srv.Conn(t, target), schema)
		if err != nil {
			t.Fatal(err)
		}
		if d := want.Diff(got); len(d) > 0 {
			t.Fatalf("restored %s differs:\n%s", schema, strings.Join(d, "\n"))
		}
		if d := pgtest.DiffExtras(e.srv.Extras(t, e.db, schema), e.srv.Extras(t, target, schema)); len(d) > 0 {
			t.Fatalf("comments, owners, privileges or policies of the restored %s differ:\n%s", schema, strings.Join(d, "\n"))
		}
	}
}

func binDirOr(dir string) string {
	if dir == "" {
		if p, err := exec.LookPath("pg_restore"); err == nil {
			return filepath.Dir(p)
		}
	}
	return dir
}

func TestRetentionKeepsTheNewest(t *testing.T) {
	e := newEstate(t, `
retention "two" {
  keep_last = 2
}
`)
	// Only the measurement resource, with its own retention.
	cfg := filepath.Join(e.dir, "estate.hcl")
	src, _ := os.ReadFile(cfg)
	src = bytes.Replace(src, []byte(`schema   = "aip_measure"`), []byte("schema   = \"aip_measure\"\n  retention = retention.two"), 1)
	os.WriteFile(cfg, src, 0o644)

	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := range 5 {
		now := start.Add(time.Duration(i) * 8 * 24 * time.Hour).Format(time.RFC3339)
		e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "measurement.health", "--now", now)
	}
	got := zips(t, e.backups, "measurement/health")
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	want := []string{"health_2026-11-25-08-00-00.zip", "health_2026-12-03-08-00-00.zip"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("after five backups with keep_last = 2: %v, want %v", names, want)
	}
}

func TestStalePlanIsRefused(t *testing.T) {
	e := newEstate(t, "")
	now := "2026-11-25T08:00:00Z"
	planFile := filepath.Join(t.TempDir(), "backup.plan")
	e.mustPlanb(t, 0, "plan", "--out", planFile, "--now", now, "--target", "measurement.health")
	// Another apply changes the catalog the plan relied on.
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T07:00:00Z", "--target", "measurement.health")
	r := e.mustPlanb(t, 1, "apply", planFile)
	if !strings.Contains(r.stderr, "stale plan") {
		t.Fatalf("stale plan not refused clearly:\n%s", r.stderr)
	}
	// A changed configuration makes a plan stale too.
	e.mustPlanb(t, 0, "plan", "--out", planFile, "--now", now, "--target", "measurement.health")
	f, _ := os.OpenFile(filepath.Join(e.dir, "estate.hcl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\n# a comment\n")
	f.Close()
	r = e.mustPlanb(t, 1, "apply", planFile)
	if !strings.Contains(r.stderr, "configuration changed") {
		t.Fatalf("changed configuration not refused clearly:\n%s", r.stderr)
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	e := newEstate(t, "")
	planFile := filepath.Join(t.TempDir(), "p.plan")
	var seen strings.Builder
	// Each command must succeed: one that failed early printed too little
	// to show anything.
	for _, args := range [][]string{
		{"validate"},
		{"plan", "--out", planFile, "--json"},
		{"show", planFile},
		{"apply", "--json", "--log-level", "debug", planFile},
		{"list", "--json"},
		{"graph"},
	} {
		r := e.mustPlanb(t, 0, args...)
		seen.WriteString(r.stdout + r.stderr)
	}
	// A failing run: a schema that does not exist.
	bad := newEstate(t, "")
	os.WriteFile(filepath.Join(bad.dir, "estate.hcl"), bytes.ReplaceAll(mustRead(t, filepath.Join(bad.dir, "estate.hcl")), []byte("aip_measure"), []byte("no_such_schema")), 0o644)
	r := bad.mustPlanb(t, 1, "apply", "--auto-approve", "--log-level", "debug")
	if !strings.Contains(r.stderr+r.stdout, "no_such_schema") {
		t.Errorf("missing schema not named:\n%s%s", r.stdout, r.stderr)
	}
	seen.WriteString(r.stdout + r.stderr)
	planBytes := mustRead(t, planFile)
	for what, text := range map[string]string{"output": seen.String(), "plan file": string(planBytes)} {
		if strings.Contains(text, e.srv.Password) {
			t.Errorf("the password appears in the %s", what)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
