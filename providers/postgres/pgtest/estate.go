package pgtest

import (
	"context"
	"embed"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed estate/*.sql
var estateSQL embed.FS

// Estate names the schemas of an application that LoadEstate creates, and
// the optional parts it adds. Names may be any PostgreSQL identifiers
// (spaces, dots, dashes, double quotes, capitals, non-ASCII) of at most 63
// bytes; they must differ from each other and from existing schemas.
//
// The three schemas hold, with deterministic contents (about 5,700 rows;
// EstateRows lists them):
//
//   - Management: versions (identity column with START and INCREMENT, a
//     domain, an enum with quotes and non-ASCII in its labels, a STORED
//     generated column, a partial index, BEFORE and AFTER row triggers, the
//     latter writing audit_log), "Settings" (mixed-case names, jsonb,
//     row-level security with two policies), pending_jobs (always empty,
//     its key drawn from countdown: a cycling sequence with a negative
//     increment that has wrapped), a security_barrier view, a procedure
//     with an SQL-standard body.
//   - Dashboard: snapshots (a STORED generated column calling a function
//     of the schema, row-level security), metric_results (partitioned by
//     LIST on an enum, one partition partitioned again by RANGE, an empty
//     DEFAULT partition, a foreign key, a row trigger on the partitioned
//     table), a populated and a never-refreshed materialized view, a view,
//     and cache_entries: an UNLOGGED table keyed by a sequence starting
//     near the end of bigint.
//   - Analysis: objects (row-level security, FORCEd, with a permissive and
//     a restrictive policy; a domain with a collation; a trigger),
//     links (foreign keys with ON DELETE CASCADE), source_blobs (bytea rows
//     of 300–550 KB, stored out of line in TOAST), "Überweisung_日本"
//     (non-ASCII table and column names, an array column, owned by another
//     role), a view, a function with an SQL-standard body, and spare_ids: a
//     negative sequence never used.
//
// Every schema carries comments (on the schema, tables, columns, types,
// functions, views, policies, triggers, sequences) and grants, including
// column grants, to the roles of EstateRoles. Nothing in one schema refers
// to another unless CrossSchema is set.
type Estate struct {
	Management, Dashboard, Analysis string

	// CrossSchema adds references between the three schemas: a table of
	// Analysis (object_grades, 300 rows) with column types of Dashboard and
	// a foreign key to Management's versions, a function of Analysis
	// returning a type of Dashboard (kind_of_grade), and a view of Dashboard
	// over Management's versions (version_snapshots).
	CrossSchema bool

	// Outside, when not "", is a schema outside the application that
	// LoadEstate creates with one view (version_report, 12 rows) reading
	// Management's versions table.
	Outside string
}

// EstateRoles are the roles the estate grants privileges to. LoadEstate
// creates them when they do not exist; roles belong to the cluster, so they
// are shared by every database and outlive the tests.
var EstateRoles = []string{"planb_fixture_reader", "planb_fixture_writer", "Planb Fixture Auditor"}

// EstateRows is the number of rows LoadEstate puts in each table of the
// estate, by schema ("management", "dashboard", "analysis", "cross" for
// the tables CrossSchema adds) and table. Partitions count their own rows;
// a partitioned table is absent (its partitions hold the rows).
var EstateRows = map[string]map[string]int64{
	"management": {"versions": 60, "audit_log": 60, "Settings": 12, "pending_jobs": 0},
	"dashboard": {
		"snapshots": 40, "metric_results_quality_early": 200, "metric_results_quality_late": 200,
		"metric_results_size": 400, "metric_results_other": 800, "metric_results_default": 0,
		"grade_per_snapshot": 160, "cache_entries": 100,
	},
	"analysis": {"objects": 1200, "links": 2400, "source_blobs": 8, "Überweisung_日本": 30},
	"cross":    {"object_grades": 300},
}

// LoadEstate creates the schemas of e in database db and fills them (see
// Estate). It fails t when a statement fails. Loads into different
// databases may run concurrently.
func (s *Server) LoadEstate(t testing.TB, db string, e Estate) {
	t.Helper()
	names := map[string]string{"Management": e.Management, "Dashboard": e.Dashboard, "Analysis": e.Analysis}
	if e.Outside != "" {
		names["Outside"] = e.Outside
	}
	seen := map[string]string{}
	for field, name := range names {
		if name == "" || len(name) > 63 {
			t.Fatalf("pgtest: estate schema name %s = %q: want 1 to 63 bytes", field, name)
		}
		if other, dup := seen[name]; dup {
			t.Fatalf("pgtest: estate schemas %s and %s are both named %q", other, field, name)
		}
		seen[name] = field
	}
	subst := strings.NewReplacer(
		"@management@", pgx.Identifier{e.Management}.Sanitize(),
		"@dashboard@", pgx.Identifier{e.Dashboard}.Sanitize(),
		"@analysis@", pgx.Identifier{e.Analysis}.Sanitize(),
		"@outside@", pgx.Identifier{e.Outside}.Sanitize(),
	)
	files := []string{"roles", "management", "dashboard", "analysis"}
	if e.CrossSchema {
		files = append(files, "crossrefs")
	}
	if e.Outside != "" {
		files = append(files, "outside")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DatabaseURL(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %q: %v", db, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, f := range files {
		src, err := estateSQL.ReadFile("estate/" + f + ".sql")
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		// One simple-protocol query per file: its statements run in one
		// implicit transaction, all or nothing.
		if _, err := conn.Exec(ctx, subst.Replace(string(src))); err != nil {
			t.Fatalf("pgtest: load estate part %s into %q: %v", f, db, err)
		}
	}
	if _, err := conn.Exec(ctx, "RESET search_path"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Extras lists, one line each and sorted, what of schema in database db
// postgres.Describe leaves out: comments, owners, privileges (of the schema,
// its relations, their columns, types and functions), row-level security
// settings and policies. Names of the schema's own objects are unqualified,
// as in Describe, so a schema restored under another name compares equal.
func (s *Server) Extras(t testing.TB, db, schema string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := s.Conn(t, db)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatalf("pgtest: extras of %q: %v", schema, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	var quoted string
	var oid *uint32
	if err := tx.QueryRow(ctx, `SELECT quote_ident($1), (SELECT oid FROM pg_namespace WHERE nspname = $1),
		set_config('search_path', quote_ident($1) || ', pg_catalog', true)`, schema).Scan(&quoted, &oid, nil); err != nil {
		t.Fatalf("pgtest: extras of %q: %v", schema, err)
	}
	if oid == nil {
		t.Fatalf("pgtest: extras of %q: no such schema", schema)
	}
	rows, err := tx.Query(ctx, extrasQuery, *oid)
	if err != nil {
		t.Fatalf("pgtest: extras of %q: %v", schema, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("pgtest: extras of %q: %v", schema, err)
	}
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, quoted+".", "")
	}
	return lines
}

// DiffExtras compares two results of Extras and returns the lines only in
// want ("- ") and only in got ("+ "), nil when they are equal.
func DiffExtras(want, got []string) []string {
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range got {
		count[l]--
	}
	var out []string
	for _, l := range want {
		if count[l] > 0 {
			out = append(out, "- "+l)
			count[l]--
		}
	}
	for _, l := range got {
		if count[l] < 0 {
			out = append(out, "+ "+l)
			count[l]++
		}
	}
	return out
}

// extrasQuery lists the schema's ($1) comments, owners, privileges and
// row-level security as text lines. Names are quoted with quote_ident,
// access control lists sorted;
// expressions come from pg_get_expr under the schema's search_path.
const extrasQuery = `
WITH rel AS (
	SELECT c.oid, quote_ident(c.relname) AS name, c.relowner, c.relacl, c.relrowsecurity, c.relforcerowsecurity,
		CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
			WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END AS kind
	FROM pg_class c WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
), typ AS (
	SELECT t.oid, quote_ident(t.typname) AS name, t.typowner, t.typacl
	FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
	WHERE t.typnamespace = $1 AND (t.typtype IN ('e', 'd', 'r') OR t.typtype = 'c' AND c.relkind = 'c')
), fn AS (
	SELECT p.oid, quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, p.proowner, p.proacl
	FROM pg_proc p WHERE p.pronamespace = $1 AND NOT EXISTS (SELECT FROM pg_depend e
		WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
)
SELECT line FROM (
SELECT 'schema: owner ' || quote_ident(pg_get_userbyid(n.nspowner)) || ', acl ' || CASE WHEN n.nspacl IS NULL THEN 'default' ELSE (SELECT '{' || coalesce(string_agg(ai::text, ',' ORDER BY ai::text), '') || '}' FROM unnest(n.nspacl) ai) END
	FROM pg_namespace n WHERE n.oid = $1
UNION ALL SELECT 'comment on schema: ' || d.description
	FROM pg_description d WHERE d.classoid = 'pg_namespace'::regclass AND d.objoid = $1
UNION ALL SELECT format('%s %s: owner %s, acl %s%s%s', kind, name, quote_ident(pg_get_userbyid(relowner)),
		CASE WHEN relacl IS NULL THEN 'default' ELSE (SELECT '{' || coalesce(string_agg(ai::text, ',' ORDER BY ai::text), '') || '}' FROM unnest(relacl) ai) END,
		CASE WHEN relrowsecurity THEN ', row security' ELSE '' END,
		CASE WHEN relforcerowsecurity THEN ' forced' ELSE '' END)
	FROM rel
UNION ALL SELECT format('column %s.%s: acl %s', r.name, quote_ident(a.attname), CASE WHEN a.attacl IS NULL THEN 'default' ELSE (SELECT '{' || coalesce(string_agg(ai::text, ',' ORDER BY ai::text), '') || '}' FROM unnest(a.attacl) ai) END)
	FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid WHERE a.attacl IS NOT NULL AND NOT a.attisdropped
UNION ALL SELECT format('comment on %s %s: %s', r.kind, r.name, d.description)
	FROM rel r JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = r.oid AND d.objsubid = 0
UNION ALL SELECT format('comment on column %s.%s: %s', r.name, quote_ident(a.attname), d.description)
	FROM rel r JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = r.oid AND d.objsubid > 0
	JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = d.objsubid
UNION ALL SELECT format('policy %s on %s: %s %s to %s using %s with check %s', quote_ident(pol.polname), r.name,
		CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
		CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END,
		(SELECT string_agg(CASE WHEN rl = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(rl)) END, ', ' ORDER BY 1)
			FROM unnest(pol.polroles) rl),
		coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-'), coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-'))
	FROM pg_policy pol JOIN rel r ON r.oid = pol.polrelid
UNION ALL SELECT format('comment on policy %s on %s: %s', quote_ident(pol.polname), r.name, d.description)
	FROM pg_policy pol JOIN rel r ON r.oid = pol.polrelid
	JOIN pg_description d ON d.classoid = 'pg_policy'::regclass AND d.objoid = pol.oid
UNION ALL SELECT format('comment on trigger %s on %s: %s', quote_ident(tg.tgname), r.name, d.description)
	FROM pg_trigger tg JOIN rel r ON r.oid = tg.tgrelid
	JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = tg.oid
UNION ALL SELECT format('comment on constraint %s: %s', quote_ident(con.conname), d.description)
	FROM pg_constraint con JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid
	WHERE con.connamespace = $1
UNION ALL SELECT format('type %s: owner %s, acl %s', name, quote_ident(pg_get_userbyid(typowner)), CASE WHEN typacl IS NULL THEN 'default' ELSE (SELECT '{' || coalesce(string_agg(ai::text, ',' ORDER BY ai::text), '') || '}' FROM unnest(typacl) ai) END)
	FROM typ
UNION ALL SELECT format('comment on type %s: %s', t.name, d.description)
	FROM typ t JOIN pg_description d ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid
UNION ALL SELECT format('function %s: owner %s, acl %s', name, quote_ident(pg_get_userbyid(proowner)), CASE WHEN proacl IS NULL THEN 'default' ELSE (SELECT '{' || coalesce(string_agg(ai::text, ',' ORDER BY ai::text), '') || '}' FROM unnest(proacl) ai) END)
	FROM fn
UNION ALL SELECT format('comment on function %s: %s', f.name, d.description)
	FROM fn f JOIN pg_description d ON d.classoid = 'pg_proc'::regclass AND d.objoid = f.oid
) AS extras (line)
ORDER BY line COLLATE "C"`
