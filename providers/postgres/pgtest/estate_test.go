package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/planb-backup/planb/providers/postgres"
)

// hardNames are schema names needing quotes: a space, a dot, a double
// quote, a dash, capitals and non-ASCII.
var hardNames = Estate{
	Management: `Mngt "Prod"`,
	Dashboard:  "Dash-board.v2",
	Analysis:   "analyse spéciale",
}

func count(t *testing.T, conn *pgx.Conn, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	return n
}

func TestLoadEstate(t *testing.T) {
	s := Start(t)
	// Two loads at once: the roles are created by whichever comes first.
	dbs := [2]string{s.CreateDatabase(t, "estate_a"), s.CreateDatabase(t, "estate_b")}
	t.Run("load", func(t *testing.T) {
		for i, e := range []Estate{hardNames, {Management: "m", Dashboard: "d", Analysis: "a"}} {
			t.Run(dbs[i], func(t *testing.T) {
				t.Parallel()
				s.LoadEstate(t, dbs[i], e)
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	conn := s.Conn(t, dbs[0])
	schemas := map[string]string{"management": hardNames.Management, "dashboard": hardNames.Dashboard, "analysis": hardNames.Analysis}
	var total int64
	for part, tables := range EstateRows {
		if part == "cross" {
			if n := count(t, conn, `SELECT count(*) FROM pg_class WHERE relname = 'object_grades'`); n != 0 {
				t.Errorf("object_grades exists without CrossSchema")
			}
			continue
		}
		for table, want := range tables {
			ident := pgx.Identifier{schemas[part], table}.Sanitize()
			if got := count(t, conn, "SELECT count(*) FROM ONLY "+ident); got != want {
				t.Errorf("%s: %d rows, want %d", ident, got, want)
			}
			total += want
		}
	}
	if total < 3000 {
		t.Errorf("the estate holds %d rows, want a few thousand", total)
	}

	ns := []string{hardNames.Management, hardNames.Dashboard, hardNames.Analysis}
	for _, c := range []struct {
		what  string
		query string
		want  int64
	}{
		{"roles", `SELECT count(*) FROM pg_roles WHERE rolname = ANY ($2) AND $1::text[] IS NOT NULL`, 3},
		{"enums", `SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = ANY ($1) AND t.typtype = 'e'`, 3},
		{"domains", `SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = ANY ($1) AND t.typtype = 'd'`, 3},
		{"partitions", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relispartition AND c.relkind IN ('r', 'p')`, 6},
		{"partitioned tables", `SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] JOIN pg_type ty ON ty.oid = a.atttypid
			WHERE n.nspname = ANY ($1) AND (ty.typtype = 'e' OR c.relname = 'metric_results_quality')`, 2},
		{"identity columns", `SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND a.attidentity <> ''`, 4},
		{"generated columns", `SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND a.attgenerated = 's'`, 4},
		{"views", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relkind = 'v'`, 3},
		{"materialized views", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relkind = 'm'`, 2},
		{"unpopulated materialized views", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relkind = 'm' AND NOT c.relispopulated`, 1},
		{"triggers", `SELECT count(*) FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND NOT tg.tgisinternal AND tg.tgparentid = 0`, 4},
		{"trigger functions", `SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY ($1) AND p.prorettype = 'trigger'::regtype`, 4},
		{"tables with row security", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relrowsecurity`, 3},
		{"tables with forced row security", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relforcerowsecurity`, 1},
		{"policies", `SELECT count(*) FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1)`, 5},
		{"column grants", `SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND a.attacl IS NOT NULL`, 19},
		{"schema comments", `SELECT count(*) FROM pg_description d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass AND d.objoid = n.oid WHERE n.nspname = ANY ($1)`, 3},
		{"unlogged tables", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relkind = 'r' AND c.relpersistence = 'u'`, 1},
		{"tables owned by a fixture role", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relkind = 'r' AND pg_get_userbyid(c.relowner) = ANY ($2)`, 1},
		{"non-ASCII and mixed-case table names", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND c.relkind = 'r' AND c.relname ~ '[^a-z0-9_]'`, 2},
		{"blobs of several hundred KB", `SELECT count(*) FROM ` + pgx.Identifier{hardNames.Analysis, "source_blobs"}.Sanitize() + ` WHERE length(content) > 300000 AND size = length(content)`, 3},
		{"TOAST bytes over 700 KB", `SELECT (pg_total_relation_size(c.reltoastrelid) > 700000)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ($1::text[])[3] AND c.relname = 'source_blobs'`, 1},
		{"cycled countdown", `SELECT count(*) FROM pg_sequences WHERE schemaname = ANY ($1) AND sequencename = 'countdown' AND last_value = 36 AND increment_by = -7 AND cycle`, 1},
		{"huge sequence", `SELECT count(*) FROM pg_sequences WHERE schemaname = ANY ($1) AND sequencename = 'huge_ids' AND last_value = 9223372036854099000`, 1},
		{"unused negative sequence", `SELECT count(*) FROM pg_sequences WHERE schemaname = ANY ($1) AND sequencename = 'spare_ids' AND last_value IS NULL AND increment_by < 0`, 1},
	} {
		args := []any{ns}
		if strings.Contains(c.query, "$2") {
			args = append(args, EstateRoles)
		}
		if !strings.Contains(c.query, "$1") {
			args = nil
		}
		if got := count(t, conn, c.query, args...); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	if refs := crossRefs(t, conn, ns); len(refs) > 0 {
		t.Errorf("without CrossSchema, the schemas refer to each other: %v", refs)
	}

	// The contents are the same whatever the schema names and however
	// often they are loaded.
	other := s.Conn(t, dbs[1])
	for i, name := range []string{"m", "d", "a"} {
		want, err := postgres.Describe(context.Background(), other, name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := postgres.Describe(context.Background(), conn, ns[i])
		if err != nil {
			t.Fatal(err)
		}
		if d := want.Diff(got); len(d) > 0 {
			t.Errorf("%s and %q differ:\n%s", name, ns[i], strings.Join(d, "\n"))
		}
		if d := DiffExtras(s.Extras(t, dbs[1], name), s.Extras(t, dbs[0], ns[i])); len(d) > 0 {
			t.Errorf("extras of %s and %q differ:\n%s", name, ns[i], strings.Join(d, "\n"))
		}
	}
}

// crossRefs lists the dependencies of objects of one of schemas on objects
// of another, as "dependent → referenced" descriptions.
func crossRefs(t *testing.T, conn *pgx.Conn, schemas []string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		WITH objs AS (
			SELECT 'pg_class'::regclass AS classid, c.oid, c.relnamespace AS ns FROM pg_class c
			UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typnamespace FROM pg_type t
			UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.pronamespace FROM pg_proc p
			UNION ALL SELECT 'pg_constraint'::regclass, c.oid, c.connamespace FROM pg_constraint c
			UNION ALL SELECT 'pg_rewrite'::regclass, r.oid, c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
			UNION ALL SELECT 'pg_attrdef'::regclass, a.oid, c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
		)
		SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0) || ' → ' || pg_describe_object(d.refclassid, d.refobjid, 0)
		FROM pg_depend d
		JOIN objs o ON o.classid = d.classid AND o.oid = d.objid
		JOIN objs r ON r.classid = d.refclassid AND r.oid = d.refobjid
		JOIN pg_namespace ons ON ons.oid = o.ns JOIN pg_namespace rns ON rns.oid = r.ns
		WHERE ons.nspname = ANY ($1) AND rns.nspname = ANY ($1) AND o.ns <> r.ns
		ORDER BY 1`, schemas)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

func TestLoadEstateCrossSchemaAndOutside(t *testing.T) {
	s := Start(t)
	db := s.CreateDatabase(t, "estate_cross")
	e := hardNames
	e.CrossSchema = true
	e.Outside = `Report's "Outside"`
	s.LoadEstate(t, db, e)
	conn := s.Conn(t, db)
	ns := []string{e.Management, e.Dashboard, e.Analysis}

	if got := count(t, conn, "SELECT count(*) FROM "+pgx.Identifier{e.Analysis, "object_grades"}.Sanitize()); got != EstateRows["cross"]["object_grades"] {
		t.Errorf("object_grades: %d rows, want %d", got, EstateRows["cross"]["object_grades"])
	}
	if got := count(t, conn, "SELECT count(*) FROM "+pgx.Identifier{e.Dashboard, "version_snapshots"}.Sanitize()); got == 0 {
		t.Error("version_snapshots is empty")
	}
	if got := count(t, conn, "SELECT count(*) FROM "+pgx.Identifier{e.Outside, "version_report"}.Sanitize()); got != 12 {
		t.Errorf("version_report: %d rows, want 12", got)
	}
	refs := strings.Join(crossRefs(t, conn, ns), "\n")
	for _, want := range []string{
		// A table of analysis with a column type of dashboard.
		`table "analyse spéciale".object_grades → type "Dash-board.v2".metric_kind`,
		`table "analyse spéciale".object_grades → type "Dash-board.v2".grade`,
		// A foreign key from analysis to management.
		`constraint object_grades_version_id_fkey on table "analyse spéciale".object_grades → table "Mngt ""Prod""".versions`,
		// A function of analysis returning a type of dashboard.
		`function "analyse spéciale".kind_of_grade(numeric) → type "Dash-board.v2".metric_kind`,
		// A view of dashboard over a table of management.
		`rule _RETURN on view "Dash-board.v2".version_snapshots → table "Mngt ""Prod""".versions`,
	} {
		if !strings.Contains(refs, want) {
			t.Errorf("cross-schema references lack %s:\n%s", want, refs)
		}
	}
	outside := crossRefs(t, conn, []string{e.Management, e.Outside})
	if len(outside) == 0 || !strings.Contains(strings.Join(outside, "\n"), `version_report → table "Mngt ""Prod""".versions`) {
		t.Errorf("the outside view does not depend on versions: %v", outside)
	}
}

func TestLoadEstateRejectsBadNames(t *testing.T) {
	for name, e := range map[string]Estate{
		"empty":     {Management: "m", Dashboard: "", Analysis: "a"},
		"duplicate": {Management: "x", Dashboard: "d", Analysis: "x"},
		"too long":  {Management: strings.Repeat("é", 32), Dashboard: "d", Analysis: "a"},
		"outside":   {Management: "m", Dashboard: "d", Analysis: "a", Outside: "m"},
	} {
		t.Run(name, func(t *testing.T) {
			ft := &fatalRecorder{TB: t}
			func() {
				defer func() { _ = recover() }()
				(&Server{}).LoadEstate(ft, "db", e)
			}()
			if !ft.failed {
				t.Fatalf("LoadEstate accepted %+v", e)
			}
		})
	}
}

// fatalRecorder records a Fatalf instead of ending the test (it panics to
// stop the caller, as FailNow would).
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = true
	panic("fatal")
}

func TestDiffExtras(t *testing.T) {
	want := []string{"a", "b", "b", "c"}
	if d := DiffExtras(want, []string{"a", "b", "b", "c"}); d != nil {
		t.Errorf("equal lists: %q", d)
	}
	d := DiffExtras(want, []string{"a", "b", "d"})
	if strings.Join(d, "|") != "- b|- c|+ d" {
		t.Errorf("DiffExtras = %q", d)
	}
}
