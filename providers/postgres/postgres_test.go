package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// quotedSchemas creates schemas whose names need quoting, and a decoy
// "WebXShop" that the unquoted pattern Web.Shop would match.
const quotedSchemas = `
CREATE SCHEMA "Legacy-Mngt";
CREATE TABLE "Legacy-Mngt"."Settings" (key text PRIMARY KEY, value jsonb, updated timestamptz NOT NULL DEFAULT '2024-01-01');
INSERT INTO "Legacy-Mngt"."Settings" VALUES ('mode', '{"a": [1, 2]}'), ('Empty', NULL), ('ünïcødé', '"x"');

CREATE SCHEMA "Legacy Central";
CREATE TYPE "Legacy Central".level AS ENUM ('low', 'high');
CREATE TABLE "Legacy Central".snapshots (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	taken date NOT NULL,
	lvl "Legacy Central".level,
	pos point,
	score double precision
);
INSERT INTO "Legacy Central".snapshots (taken, lvl, pos, score)
	SELECT date '2020-01-01' + i, CASE WHEN i % 2 = 0 THEN 'low' ELSE 'high' END::"Legacy Central".level, point(i, -i), i / 7.0
	FROM generate_series(1, 500) i;
CREATE VIEW "Legacy Central".recent AS SELECT id, taken FROM "Legacy Central".snapshots WHERE taken > date '2021-01-01';
CREATE MATERIALIZED VIEW "Legacy Central".per_level AS SELECT lvl, count(*) AS n FROM "Legacy Central".snapshots GROUP BY lvl;

CREATE SCHEMA "Web.Shop";
CREATE TABLE "Web.Shop".orders (id serial PRIMARY KEY, item text NOT NULL, qty int CHECK (qty > 0));
CREATE INDEX orders_item ON "Web.Shop".orders (lower(item));
CREATE FUNCTION "Web.Shop".total() RETURNS bigint LANGUAGE sql AS $$ SELECT sum(qty) FROM "Web.Shop".orders $$;
INSERT INTO "Web.Shop".orders (item, qty) SELECT 'item ' || i, i FROM generate_series(1, 200) i;

CREATE SCHEMA "WebXShop";
CREATE TABLE "WebXShop".decoy_table (id int);
INSERT INTO "WebXShop".decoy_table VALUES (42);
`

// The application loaded from the project's fixture: schema names that
// need quoting (a space, a double quote, a dash, a dot).
var app = pgtest.Estate{Management: "app_mngt", Dashboard: `App "Central"`, Analysis: "app-local.v2"}

var estateSchemas = []string{app.Management, app.Dashboard, app.Analysis, "Legacy-Mngt", "Legacy Central", "Web.Shop"}

// estate creates a database holding the fixture's application and the
// quoted schemas.
func estate(t *testing.T) (*pgtest.Server, postgres.ConnConfig) {
	t.Helper()
	srv := pgtest.Start(t)
	db := srv.CreateDatabase(t, "estate")
	srv.LoadEstate(t, db, app)
	srv.Exec(t, db, quotedSchemas)
	return srv, connConfig(srv, db)
}

// assertSameExtras compares what Describe leaves out (comments, owners,
// privileges, row-level security) of schema in two databases; target names
// the schema in dst when it was restored under another name.
func assertSameExtras(t *testing.T, srv *pgtest.Server, src, dst, schema, target string) {
	t.Helper()
	if d := pgtest.DiffExtras(srv.Extras(t, src, schema), srv.Extras(t, dst, target)); len(d) > 0 {
		t.Errorf("comments, owners, privileges or policies of %q differ after the restore:\n%s", target, strings.Join(d, "\n"))
	}
}

func connConfig(srv *pgtest.Server, db string) postgres.ConnConfig {
	return postgres.ConnConfig{Host: srv.Host, Port: srv.Port, User: srv.User, Password: srv.Password,
		DBName: db, SSLMode: "disable", BinDir: srv.BinDir}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func describe(t *testing.T, c postgres.ConnConfig, schema string) *postgres.SchemaDescription {
	t.Helper()
	ctx := ctxT(t)
	conn, err := postgres.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	d, err := postgres.Describe(ctx, conn, schema)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// plainRestore restores a dump file with pg_restore alone, as an operator
// would without planb.
func plainRestore(t *testing.T, c postgres.ConnConfig, file string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.BinDir, "pg_restore"), "--exit-on-error", "--single-transaction",
		"-h", c.Host, "-p", strconv.Itoa(c.Port), "-U", c.User, "-d", c.DBName, file)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+c.Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore %s: %v\n%s", filepath.Base(file), err, out)
	}
}

func restoreList(t *testing.T, c postgres.ConnConfig, file string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(c.BinDir, "pg_restore"), "--list", file).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore --list: %v\n%s", err, out)
	}
	return string(out)
}

// withoutSequenceAdvance drops the diff lines of sequences whose only
// difference is a higher last_value in the restored copy. Sequences are not
// transactional: pg_dump reads their current value, not the value as of the
// snapshot, so nextval calls after the snapshot show up in the dump. That
// leaves the restored sequence ahead of its table, which is harmless.
func withoutSequenceAdvance(diff []string) []string {
	var out []string
	for _, line := range diff {
		if before, after, ok := strings.Cut(line, " → "); ok && strings.HasPrefix(line, "~ sequence ") {
			_, b, _ := strings.Cut(before, ": ")
			bDef, bLast, _ := strings.Cut(b, "; last_value ")
			aDef, aLast, _ := strings.Cut(after, "; last_value ")
			bn, aErr := strconv.ParseInt(bLast, 10, 64)
			an, bErr := strconv.ParseInt(aLast, 10, 64)
			if bDef == aDef && aErr == nil && bErr == nil && an >= bn {
				continue
			}
		}
		out = append(out, line)
	}
	return out
}

const marker = "MARKER-WRITTEN-AFTER-SNAPSHOT"

func TestSnapshotDumpsAreConsistentAndRestorable(t *testing.T) {
	srv, c := estate(t)
	ctx := ctxT(t)

	before := map[string]*postgres.SchemaDescription{}
	for _, s := range estateSchemas {
		before[s] = describe(t, c, s)
	}

	snap, err := postgres.ExportSnapshot(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if num, text := snap.ServerVersion(); num < 150000 || !strings.HasPrefix(text, "15") {
		t.Errorf("ServerVersion() = %d, %q", num, text)
	}
	stats, err := snap.SchemaStats(ctx, app.Dashboard)
	if err != nil {
		t.Fatal(err)
	}
	// snapshots, cache_entries, metric_results and its 6 partitions, 2
	// materialized views.
	if !stats.Exists || stats.Tables != 11 || stats.Bytes <= 0 || len(stats.Detail) != 11 {
		t.Errorf("SchemaStats(%q) = %+v, want 11 tables with a size", app.Dashboard, stats)
	}
	if _, err := snap.SchemaStats(ctx, "no_such_schema"); !errors.Is(err, postgres.ErrSchemaNotFound) ||
		!strings.HasPrefix(err.Error(), `schema "no_such_schema" does not exist in database "`+c.DBName+`" (is dbname`) {
		t.Errorf("SchemaStats(missing) error = %v", err)
	}
	dbStats, err := snap.DatabaseStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dbStats.Tables <= stats.Tables || dbStats.Bytes <= stats.Bytes {
		t.Errorf("DatabaseStats = %d tables, %d bytes; want more than the dashboard's %d, %d", dbStats.Tables, dbStats.Bytes, stats.Tables, stats.Bytes)
	}

	// Written after the snapshot, before the dumps start: must not be dumped.
	srv.Exec(t, c.DBName, `
		INSERT INTO "App ""Central""".snapshots (id, taken, label) VALUES (100000, '2030-01-01', '`+marker+`');
		INSERT INTO "Web.Shop".orders (item, qty) VALUES ('`+marker+`', 1);
		UPDATE "Legacy Central".snapshots SET score = -1 WHERE id = 1;
		UPDATE app_mngt.versions SET note = '`+marker+`', status = 'archived' WHERE id = 100;
		INSERT INTO "app-local.v2".objects (fullname, kind, "ObjectName") VALUES ('/marker', 'program', '`+marker+`');`)

	dir := t.TempDir()
	files := map[string]string{}
	var wg sync.WaitGroup
	errs := make([]error, len(estateSchemas))
	for i, s := range estateSchemas {
		files[s] = filepath.Join(dir, strconv.Itoa(i)+".dump")
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(files[s])
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = errors.Join(postgres.Dump(ctx, c, postgres.DumpOptions{Schema: s, Snapshot: snap.ID()}, f), f.Close())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}

	for _, s := range estateSchemas {
		b, err := os.ReadFile(files[s])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("PGDMP")) {
			t.Errorf("dump of %q is not a custom-format archive", s)
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("dump of %q holds a row written after the snapshot", s)
		}
	}
	list := restoreList(t, c, files["Web.Shop"])
	if strings.Contains(list, "WebXShop") || strings.Contains(list, "decoy_table") || !strings.Contains(list, "orders") {
		t.Errorf("dump of \"Web.Shop\" lists:\n%s", list)
	}

	// Control: without the snapshot, the same check finds the marker.
	var fresh bytes.Buffer
	if err := postgres.Dump(ctx, c, postgres.DumpOptions{Schema: app.Dashboard}, &fresh); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(fresh.Bytes(), []byte(marker)) {
		t.Fatal("a dump without the snapshot lacks the marker: the consistency check cannot fail")
	}

	restored := connConfig(srv, srv.CreateDatabase(t, "restored"))
	for _, s := range estateSchemas {
		plainRestore(t, restored, files[s])
	}
	for _, s := range estateSchemas {
		if diff := withoutSequenceAdvance(before[s].Diff(describe(t, restored, s))); len(diff) > 0 {
			t.Errorf("restored %q differs from the snapshot:\n%s", s, strings.Join(diff, "\n"))
		}
		assertSameExtras(t, srv, c.DBName, restored.DBName, s, s)
	}
	if got := before[app.Dashboard].Diff(describe(t, c, app.Dashboard)); len(got) != 1 || !strings.HasPrefix(got[0], "~ rows of snapshots:") {
		t.Errorf("Diff after a write = %q, want one changed row checksum of snapshots", got)
	}
	var decoys int
	if err := srv.Conn(t, restored.DBName).QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = 'WebXShop'`).Scan(&decoys); err != nil || decoys != 0 {
		t.Errorf("WebXShop restored (%d, %v): the schema pattern was not exact", decoys, err)
	}
}

func TestDescribeCoversSchemaObjects(t *testing.T) {
	srv := pgtest.Start(t)
	db := srv.CreateDatabase(t, "describe")
	srv.Exec(t, db, quotedSchemas)
	d := describe(t, connConfig(srv, db), "Legacy Central")
	if len(d.Tables) != 2 || d.Tables[0].Name != "per_level" || d.Tables[1].Name != "snapshots" {
		t.Fatalf("tables = %+v", d.Tables)
	}
	snaps := d.Tables[1]
	if snaps.Rows != 500 || len(snaps.Checksum) != 64 || len(snaps.Columns) != 5 || snaps.Columns[0].Identity != "a" {
		t.Errorf("snapshots = rows %d, checksum %q, columns %+v", snaps.Rows, snaps.Checksum, snaps.Columns)
	}
	if snaps.Columns[2].Type != "level" {
		t.Errorf("enum column type = %q, want the unqualified level", snaps.Columns[2].Type)
	}
	if len(d.Views) != 2 || len(d.Types) != 1 || !strings.Contains(d.Types[0].Definition, "'low', 'high'") || len(d.Sequences) != 1 {
		t.Errorf("views %+v, types %+v, sequences %+v", d.Views, d.Types, d.Sequences)
	}
	conn := srv.Conn(t, db)
	if _, err := postgres.Describe(ctxT(t), conn, "nope"); !errors.Is(err, postgres.ErrSchemaNotFound) {
		t.Errorf("Describe(missing) = %v, want ErrSchemaNotFound", err)
	}
}

func TestDumpMissingSchemaWritesNothing(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "missing"))
	var out bytes.Buffer
	err := postgres.Dump(ctxT(t), c, postgres.DumpOptions{Schema: "Web.Shop"}, &out)
	if !errors.Is(err, postgres.ErrSchemaNotFound) || !strings.Contains(err.Error(), `schema "Web.Shop" does not exist in database "`+c.DBName+`"`) {
		t.Fatalf("err = %v, want schema not found", err)
	}
	if out.Len() != 0 {
		t.Fatalf("%d bytes written for a missing schema", out.Len())
	}
}

func TestWrongPasswordNeverShown(t *testing.T) {
	srv := pgtest.Start(t)
	if os.Getenv("PLANB_TEST_DATABASE_URL") != "" {
		t.Skip("external server: its authentication rules are not known")
	}
	c := connConfig(srv, "postgres")
	c.Password = "Wrong-Passw0rd-" + srv.Password[:6]
	ctx := ctxT(t)
	checks := map[string]func() error{
		"Connect": func() error { _, err := postgres.Connect(ctx, c); return err },
		"ExportSnapshot": func() error {
			_, err := postgres.ExportSnapshot(ctx, c)
			return err
		},
		"Dump": func() error { return postgres.Dump(ctx, c, postgres.DumpOptions{}, &bytes.Buffer{}) },
		"Restore": func() error {
			return postgres.Restore(ctx, c, postgres.RestoreOptions{}, strings.NewReader("not a dump"))
		},
		"CreateScratchDatabase": func() error {
			_, _, err := postgres.CreateScratchDatabase(ctx, c, "x")
			return err
		},
	}
	for name, run := range checks {
		t.Run(name, func(t *testing.T) {
			err := run()
			if err == nil {
				t.Fatal("no error with a wrong password")
			}
			msg := err.Error()
			if !strings.Contains(msg, "authentication failed") {
				t.Errorf("error does not say authentication failed: %v", err)
			}
			if strings.Contains(msg, c.Password) || strings.Contains(msg, srv.Password) {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}

func TestDumpArgvHasNoPassword(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "argv"))
	srv.Exec(t, c.DBName, quotedSchemas)
	// A pg_dump that records its argv and environment, then runs the real one.
	bin := t.TempDir()
	record := filepath.Join(bin, "argv")
	script := "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > " + record + "\nenv | grep -c '^PGPASSWORD=' >> " + record + "\nexec " + filepath.Join(c.BinDir, "pg_dump") + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.BinDir = bin
	var out bytes.Buffer
	if err := postgres.Dump(ctxT(t), c, postgres.DumpOptions{Schema: "Legacy Central"}, &out); err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec), srv.Password) {
		t.Fatalf("pg_dump argv holds the password:\n%s", rec)
	}
	lines := strings.Split(strings.TrimSpace(string(rec)), "\n")
	if lines[len(lines)-1] != "1" || !strings.Contains(string(rec), "--schema=\"Legacy Central\"\n") {
		t.Fatalf("recorded:\n%s", rec)
	}
	if out.Len() == 0 {
		t.Fatal("no dump output")
	}
}

func TestCheckClient(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, "postgres")
	ctx := ctxT(t)
	conn, err := postgres.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	num, _, err := postgres.ServerVersion(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	version, err := postgres.CheckClient(ctx, c, num)
	if err != nil || !strings.HasPrefix(version, "15.") {
		t.Fatalf("CheckClient = %q, %v", version, err)
	}
	if _, err := postgres.CheckClient(ctx, c, 990001); err == nil || !strings.Contains(err.Error(), "is older than the server (PostgreSQL 99)") {
		t.Fatalf("CheckClient against a server 99 = %v", err)
	}
}

func TestRestoreSchema(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := ctxT(t)
	src := connConfig(srv, srv.CreateDatabase(t, "src"))
	// The analysis schema: TOAST, forced row-level security, a table owned
	// by another role, a function with an SQL-standard body.
	srv.LoadEstate(t, src.DBName, pgtest.Estate{Management: "src_mngt", Dashboard: "src_central", Analysis: "app_central"})
	want := describe(t, src, "app_central")
	var dump bytes.Buffer
	if err := postgres.Dump(ctx, src, postgres.DumpOptions{Schema: "app_central"}, &dump); err != nil {
		t.Fatal(err)
	}

	dst := connConfig(srv, srv.CreateDatabase(t, "dst"))
	srv.Exec(t, dst.DBName, `CREATE SCHEMA app_central; CREATE TABLE app_central.stale (id int);
		CREATE SCHEMA other; CREATE VIEW other.uses_stale AS SELECT id FROM app_central.stale;`)
	stale := describe(t, dst, "app_central")

	set := func(data []byte) []postgres.SchemaDump {
		return []postgres.SchemaDump{{Schema: "app_central", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}}}
	}
	err := postgres.RestoreSet(ctx, dst, set(dump.Bytes()), postgres.SetOptions{})
	if err == nil || !strings.Contains(err.Error(), `schema "app_central" already exists`) {
		t.Fatalf("restore over an existing schema without Replace: %v", err)
	}
	// The view of another schema over the stale table would be dropped:
	// refused unless listed.
	err = postgres.RestoreSet(ctx, dst, set(dump.Bytes()), postgres.SetOptions{Replace: true})
	var de *postgres.DependentsError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "view other.uses_stale") {
		t.Fatalf("restore over a schema with an outside dependent: %v", err)
	}
	cascade := []postgres.Dependent{{Schema: "other", Object: "view other.uses_stale"}}

	// A broken dump fails and leaves the existing schema as it was.
	broken := dump.Bytes()[:dump.Len()/2]
	err = postgres.RestoreSet(ctx, dst, set(broken), postgres.SetOptions{Replace: true, Cascade: cascade})
	if err == nil || !strings.Contains(err.Error(), "pg_restore failed") {
		t.Fatalf("restore of a truncated dump: %v", err)
	}
	if diff := stale.Diff(describe(t, dst, "app_central")); len(diff) > 0 {
		t.Fatalf("failed restore changed the schema:\n%s", strings.Join(diff, "\n"))
	}

	if err := postgres.RestoreSet(ctx, dst, set(dump.Bytes()), postgres.SetOptions{Replace: true, Cascade: cascade}); err != nil {
		t.Fatal(err)
	}
	if diff := want.Diff(describe(t, dst, "app_central")); len(diff) > 0 {
		t.Fatalf("restored schema differs:\n%s", strings.Join(diff, "\n"))
	}
	assertSameExtras(t, srv, src.DBName, dst.DBName, "app_central", "app_central")

	// Under another name, beside the live schema of the original name, with
	// the application's other schemas as context in the scratch database
	// (as a restore passes them, for references between the schemas).
	context := []postgres.SchemaDump{}
	for _, s := range []string{"src_mngt", "src_central"} {
		var d bytes.Buffer
		if err := postgres.Dump(ctx, src, postgres.DumpOptions{Schema: s}, &d); err != nil {
			t.Fatal(err)
		}
		context = append(context, postgres.SchemaDump{Schema: s, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(d.Bytes())), nil
		}})
	}
	if err := postgres.RestoreSet(ctx, dst, set(dump.Bytes()), postgres.SetOptions{
		Rename: map[string]string{"app_central": "App Central Copy"}, Context: context}); err != nil {
		t.Fatal(err)
	}
	if diff := want.Diff(describe(t, dst, "App Central Copy")); len(diff) > 0 {
		t.Fatalf("schema restored under another name differs:\n%s", strings.Join(diff, "\n"))
	}
	assertSameExtras(t, srv, src.DBName, dst.DBName, "app_central", "App Central Copy")
	if diff := want.Diff(describe(t, dst, "app_central")); len(diff) > 0 {
		t.Fatalf("restoring a copy changed the original:\n%s", strings.Join(diff, "\n"))
	}
	var scratch int
	if err := srv.Conn(t, "postgres").QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE 'planb_rename%'`).Scan(&scratch); err != nil || scratch != 0 {
		t.Fatalf("scratch databases left: %d, %v", scratch, err)
	}
}

// pagilaRows gives the (DDL-only) Pagila schema some rows, through its
// sequences, defaults and triggers.
const pagilaRows = `
INSERT INTO app_local.actor (first_name, last_name) SELECT 'First' || i, 'Last' || i FROM generate_series(1, 50) i;
INSERT INTO app_local.category (name) VALUES ('Action'), ('Drama');
`

// TestSharedSamplesRoundTrip dumps the Pagila and Chinook samples of the
// shared test data folder and restores them into another database. The
// folder is optional: without it the test is reported Missing.
func TestSharedSamplesRoundTrip(t *testing.T) {
	if _, err := pgtest.TestdataDir(); err != nil {
		pgtest.Missing(t, "%v", err)
	}
	srv := pgtest.Start(t)
	ctx := ctxT(t)
	src := connConfig(srv, srv.CreateDatabase(t, "samples"))
	srv.LoadPagila(t, src.DBName, "app_local")
	srv.LoadChinook(t, src.DBName, "app_central")
	srv.Exec(t, src.DBName, pagilaRows)
	dst := connConfig(srv, srv.CreateDatabase(t, "samples_restored"))
	for _, s := range []string{"app_local", "app_central"} {
		var dump bytes.Buffer
		if err := postgres.Dump(ctx, src, postgres.DumpOptions{Schema: s}, &dump); err != nil {
			t.Fatal(err)
		}
		data := dump.Bytes()
		if err := postgres.RestoreSet(ctx, dst, []postgres.SchemaDump{{Schema: s, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}}}, postgres.SetOptions{}); err != nil {
			t.Fatal(err)
		}
		if diff := describe(t, src, s).Diff(describe(t, dst, s)); len(diff) > 0 {
			t.Errorf("restored %s differs:\n%s", s, strings.Join(diff, "\n"))
		}
	}
}

func TestDumpRestoreWholeDatabase(t *testing.T) {
	srv, c := estate(t)
	ctx := ctxT(t)
	var dump bytes.Buffer
	if err := postgres.Dump(ctx, c, postgres.DumpOptions{}, &dump); err != nil {
		t.Fatal(err)
	}
	name, drop, err := postgres.CreateScratchDatabase(ctx, c, "planb_verify")
	if err != nil {
		t.Fatal(err)
	}
	defer drop(ctx)
	if !strings.HasPrefix(name, "planb_verify_") {
		t.Errorf("scratch name %q", name)
	}
	dst := c.WithDB(name)
	if err := postgres.Restore(ctx, dst, postgres.RestoreOptions{}, &dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(estateSchemas, "WebXShop") {
		if diff := describe(t, c, s).Diff(describe(t, dst, s)); len(diff) > 0 {
			t.Errorf("schema %q differs after a whole-database restore:\n%s", s, strings.Join(diff, "\n"))
		}
		assertSameExtras(t, srv, c.DBName, dst.DBName, s, s)
	}
	if err := drop(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := srv.Conn(t, "postgres").QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("scratch database still there: %d, %v", n, err)
	}
}

func TestExecSQLIsAtomic(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "execsql"))
	ctx := ctxT(t)
	if err := postgres.ExecSQL(ctx, c, "CREATE TABLE hook (id int); INSERT INTO hook VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	err := postgres.ExecSQL(ctx, c, "INSERT INTO hook VALUES (2); SELECT no_such_column FROM hook")
	if err == nil || !strings.Contains(err.Error(), "no_such_column") {
		t.Fatalf("failing SQL: err = %v", err)
	}
	var n int
	if err := srv.Conn(t, c.DBName).QueryRow(ctx, "SELECT count(*) FROM hook").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after a failed ExecSQL = %d, %v; want the first statement rolled back", n, err)
	}
}
