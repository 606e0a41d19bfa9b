package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// crossSchemas is an application whose three schemas reference each other
// in a cycle no schema-by-schema order satisfies: a management table uses a
// dashboard enum, a dashboard view reads a management table, an analysis
// table has a foreign key to management and a function returns a dashboard
// type; outside.recent is a view outside the application over one of its
// tables.
const crossSchemas = `
CREATE SCHEMA "X Mngt";
CREATE SCHEMA "x.central";
CREATE SCHEMA x_local;
CREATE TYPE "x.central".level AS ENUM ('low', 'mid', 'high');
CREATE TABLE "X Mngt".versions (id int PRIMARY KEY, name text NOT NULL, lvl "x.central".level NOT NULL);
INSERT INTO "X Mngt".versions SELECT g, 'v' || g, (ARRAY['low','mid','high'])[1 + g % 3]::"x.central".level FROM generate_series(1, 300) g;
CREATE VIEW "x.central".by_level AS SELECT lvl, count(*) AS n FROM "X Mngt".versions GROUP BY lvl;
CREATE TABLE x_local.objects (id bigint, version int NOT NULL REFERENCES "X Mngt".versions (id), lvl "x.central".level)
	PARTITION BY LIST (lvl);
ALTER TABLE x_local.objects ADD PRIMARY KEY (id, lvl);
CREATE TABLE x_local.objects_low PARTITION OF x_local.objects FOR VALUES IN ('low');
CREATE TABLE x_local.objects_rest PARTITION OF x_local.objects DEFAULT;
INSERT INTO x_local.objects SELECT g, 1 + g % 300, (ARRAY['low','mid','high'])[1 + g % 3]::"x.central".level FROM generate_series(1, 5000) g;
CREATE FUNCTION x_local.top_level() RETURNS "x.central".level LANGUAGE sql STABLE AS $$ SELECT max(lvl) FROM x_local.objects $$;
`

const outsideDependent = `
CREATE SCHEMA outside;
CREATE VIEW outside.recent AS SELECT id, name FROM "X Mngt".versions WHERE id > 250;
`

var crossNames = []string{"X Mngt", "x.central", "x_local"}

// dumpAll dumps schemas of c into memory.
func dumpAll(t *testing.T, c postgres.ConnConfig, schemas []string) []postgres.SchemaDump {
	t.Helper()
	var out []postgres.SchemaDump
	for _, s := range schemas {
		var buf bytes.Buffer
		if err := postgres.Dump(ctxT(t), c, postgres.DumpOptions{Schema: s}, &buf); err != nil {
			t.Fatalf("dump %s: %v", s, err)
		}
		data := buf.Bytes()
		out = append(out, postgres.SchemaDump{Schema: s, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}})
	}
	return out
}

func describeAll(t *testing.T, c postgres.ConnConfig, schemas []string) map[string]*postgres.SchemaDescription {
	out := map[string]*postgres.SchemaDescription{}
	for _, s := range schemas {
		out[s] = describe(t, c, s)
	}
	return out
}

func sameSchemas(t *testing.T, want, got map[string]*postgres.SchemaDescription) {
	t.Helper()
	for s, w := range want {
		if got[s] == nil {
			continue
		}
		if diff := withoutSequenceAdvance(w.Diff(got[s])); len(diff) > 0 {
			t.Errorf("schema %s differs:\n%s", s, strings.Join(diff, "\n"))
		}
	}
}

func TestRestoreSetCrossSchemaIntoEmptyDatabase(t *testing.T) {
	srv := pgtest.Start(t)
	src := connConfig(srv, srv.CreateDatabase(t, "cross"))
	srv.Exec(t, src.DBName, crossSchemas)
	want := describeAll(t, src, crossNames)
	dumps := dumpAll(t, src, crossNames)

	dst := connConfig(srv, srv.CreateDatabase(t, "crossdst"))
	if err := postgres.RestoreSet(ctxT(t), dst, dumps, postgres.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	sameSchemas(t, want, describeAll(t, dst, crossNames))
	// Without Replace, a second restore refuses and changes nothing.
	err := postgres.RestoreSet(ctxT(t), dst, dumps, postgres.SetOptions{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second restore without Replace: %v, want an error saying the schema exists", err)
	}
}

func TestRestoreSetReplacesAtomically(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "cross"))
	srv.Exec(t, c.DBName, crossSchemas)
	want := describeAll(t, c, crossNames)
	dumps := dumpAll(t, c, crossNames)

	// Damage every schema, then restore them together, twice.
	srv.Exec(t, c.DBName, `DELETE FROM x_local.objects WHERE id > 100; UPDATE "X Mngt".versions SET name = 'broken';
		DROP VIEW "x.central".by_level; CREATE TABLE "x.central".extra (id int)`)
	for i := 0; i < 2; i++ {
		if err := postgres.RestoreSet(ctxT(t), c, dumps, postgres.SetOptions{Replace: true}); err != nil {
			t.Fatalf("restore %d: %v", i+1, err)
		}
		sameSchemas(t, want, describeAll(t, c, crossNames))
	}

	// A restore that fails halfway (a dump that is cut short) leaves every
	// schema as it was, including the ones restored before the failure.
	srv.Exec(t, c.DBName, `UPDATE "X Mngt".versions SET name = 'current'`)
	before := describeAll(t, c, crossNames)
	broken := append([]postgres.SchemaDump{}, dumps...)
	good := dumps[2]
	broken[2] = postgres.SchemaDump{Schema: good.Schema, Open: func() (io.ReadCloser, error) {
		rc, _ := good.Open()
		b, _ := io.ReadAll(rc)
		return io.NopCloser(bytes.NewReader(b[:len(b)*2/3])), nil
	}}
	if err := postgres.RestoreSet(ctxT(t), c, broken, postgres.SetOptions{Replace: true}); err == nil {
		t.Fatal("restore from a truncated dump succeeded")
	}
	sameSchemas(t, before, describeAll(t, c, crossNames))
}

func TestRestoreSetRefusesOutsideDependents(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "cross"))
	srv.Exec(t, c.DBName, crossSchemas+outsideDependent)
	dumps := dumpAll(t, c, crossNames)
	ctx := ctxT(t)

	// Restoring the management schema alone would cascade into the two
	// others and into the outside view.
	conn, err := postgres.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deps, err := postgres.Dependents(ctx, conn, []string{"X Mngt"})
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for _, d := range deps {
		objs = append(objs, d.Schema+": "+d.Object)
	}
	got := strings.Join(objs, "\n")
	for _, want := range []string{
		`outside: view outside.recent`,
		`x.central: view "x.central".by_level`,
		`x_local: constraint objects_version_fkey on table x_local.objects`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dependents of \"X Mngt\" lack %q:\n%s", want, got)
		}
	}
	deps, err = postgres.Dependents(ctx, conn, []string{"x.central"})
	if err != nil {
		t.Fatal(err)
	}
	objs = objs[:0]
	for _, d := range deps {
		objs = append(objs, d.Object)
	}
	got = strings.Join(objs, "\n")
	for _, want := range []string{`column lvl of table "X Mngt".versions`, `function x_local.top_level()`, `column lvl of table x_local.objects`} {
		if !strings.Contains(got, want) {
			t.Errorf("dependents of x.central lack %q:\n%s", want, got)
		}
	}

	// The whole application still has the outside view as dependent.
	before := describeAll(t, c, append(crossNames, "outside"))
	err = postgres.RestoreSet(ctx, c, dumps, postgres.SetOptions{Replace: true})
	var de *postgres.DependentsError
	if !errors.As(err, &de) || len(de.Dependents) != 1 || de.Dependents[0].Object != "view outside.recent" {
		t.Fatalf("restore with an outside dependent: %v, want a DependentsError naming view outside.recent", err)
	}
	sameSchemas(t, before, describeAll(t, c, append(crossNames, "outside")))
	// One schema alone names the dependents in the two others too.
	err = postgres.RestoreSet(ctx, c, dumps[:1], postgres.SetOptions{Replace: true})
	if !errors.As(err, &de) || !strings.Contains(err.Error(), `view "x.central".by_level`) {
		t.Fatalf("restore of one schema: %v, want a refusal naming the dashboard view", err)
	}
	sameSchemas(t, before, describeAll(t, c, append(crossNames, "outside")))

	// Listed, the outside view is dropped, and nothing else is.
	cascade := []postgres.Dependent{{Schema: "outside", Object: "view outside.recent"}}
	if err := postgres.RestoreSet(ctx, c, dumps, postgres.SetOptions{Replace: true, Cascade: cascade}); err != nil {
		t.Fatal(err)
	}
	sameSchemas(t, before, describeAll(t, c, crossNames))
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_views WHERE schemaname = 'outside'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("outside views after a cascading restore: %d (%v), want 0", n, err)
	}
}

func TestRestoreSetLockTimeoutNamesTheHolder(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "cross"))
	srv.Exec(t, c.DBName, crossSchemas)
	dumps := dumpAll(t, c, crossNames)
	ctx := ctxT(t)

	holder, err := postgres.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "SET application_name = 'report-job'; BEGIN; LOCK TABLE x_local.objects IN ACCESS SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = postgres.RestoreSet(ctx, c, dumps, postgres.SetOptions{Replace: true, LockTimeout: 500 * time.Millisecond})
	if err == nil {
		t.Fatal("restore succeeded while another session held a lock")
	}
	if !strings.Contains(err.Error(), `application "report-job"`) || !strings.Contains(err.Error(), "waited 500ms") {
		t.Fatalf("lock timeout error does not name the holder: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("restore gave up after %s, want about the lock timeout", d)
	}
}

func TestSchemaDependencies(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "cross"))
	srv.Exec(t, c.DBName, crossSchemas+outsideDependent)
	ctx := ctxT(t)
	conn, err := postgres.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deps, refs, err := postgres.SchemaDependencies(ctx, conn, crossNames)
	if err != nil {
		t.Fatal(err)
	}
	text := func(ds []postgres.Dependent) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Schema+": "+d.Object)
		}
		return strings.Join(out, "\n")
	}
	for _, c := range []struct {
		what, got string
		want      []string
	}{
		{"dependents of X Mngt", text(deps["X Mngt"]), []string{"outside: view outside.recent", `x.central: view "x.central".by_level`}},
		{"references of x_local", text(refs["x_local"]), []string{`x.central: type "x.central".level`, `X Mngt: `}},
		{"references of x.central", text(refs["x.central"]), []string{`X Mngt: `}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.got, w) {
				t.Errorf("%s lack %q:\n%s", c.what, w, c.got)
			}
		}
	}
	if got := text(refs["X Mngt"]); !strings.Contains(got, `type "x.central".level`) || strings.Contains(got, "pg_catalog") {
		t.Errorf("references of X Mngt: want the dashboard type and nothing of pg_catalog:\n%s", got)
	}
}

// Row estimates: a table never analyzed has none (not 0), and a partitioned
// parent does not count its partitions' rows a second time.
func TestRowEstimates(t *testing.T) {
	srv := pgtest.Start(t)
	c := connConfig(srv, srv.CreateDatabase(t, "estimates"))
	srv.Exec(t, c.DBName, `CREATE SCHEMA est;
CREATE TABLE est.fresh (id int);
INSERT INTO est.fresh SELECT generate_series(1, 10);
CREATE TABLE est.parts (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE est.parts_a PARTITION OF est.parts FOR VALUES FROM (0) TO (10);
CREATE TABLE est.parts_b PARTITION OF est.parts FOR VALUES FROM (10) TO (20);
INSERT INTO est.parts SELECT g, g % 20 FROM generate_series(1, 1000) g;
ANALYZE est.parts;`)
	ctx := ctxT(t)
	snap, err := postgres.ExportSnapshot(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	st, err := snap.SchemaStats(ctx, "est")
	if err != nil {
		t.Fatal(err)
	}
	if st.Tables != 4 || st.Unanalyzed != 1 || st.RowEstimate != 1000 {
		t.Fatalf("stats %+v: want 4 tables, 1 never analyzed, 1000 rows (the partitions' only)", st)
	}
	for _, tb := range st.Detail {
		if tb.Name == "fresh" && tb.RowEstimate != -1 {
			t.Errorf("never analyzed table: estimate %d, want -1 (unknown)", tb.RowEstimate)
		}
	}
}
