package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Dependent is an object outside a set of schemas that dropping the set
// (DROP SCHEMA … CASCADE) would drop or alter: a view over one of its
// tables, a column of one of its types, a foreign key to one of its tables,
// a function using one of its types.
type Dependent struct {
	// Schema is the schema the object belongs to ("" for objects outside
	// any schema, such as extensions).
	Schema string `json:"schema,omitempty"`
	// Object describes it as PostgreSQL does: "view other.v",
	// "column grade of table other.t", "constraint fk on table other.t".
	Object string `json:"object"`
}

func (d Dependent) String() string { return d.Object }

// Dependents lists the objects outside schemas that DROP SCHEMA … CASCADE
// of schemas would drop or alter, sorted by description. Schemas that do
// not exist are ignored.
//
// It follows pg_depend as the server does when it cascades: from every
// object of the schemas to the objects that depend on it, and from an
// object to the one it is an internal part of (a view's rewrite rule
// belongs to the view). An object belongs to the schema of its namespace,
// or of the object it is a part of (a constraint, trigger, default, rule
// or policy belongs to its table); objects whose home cannot be told are
// reported as outside, so nothing is dropped unseen.
func Dependents(ctx context.Context, q Querier, schemas []string) ([]Dependent, error) {
	g, err := loadDepGraph(ctx, q)
	if err != nil {
		return nil, err
	}
	return g.dependents(ctx, schemas)
}

func (g *depGraph) dependents(ctx context.Context, schemas []string) ([]Dependent, error) {
	objs, err := g.dropped(ctx, schemas)
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	reported := map[objAddr]bool{}
	var out []objAddr
	for _, obj := range objs {
		top := g.owner(obj, 0)
		if reported[top] {
			continue
		}
		reported[top] = true
		if ns, ok := g.home(top, 0); ok && slices.Contains(g.set, ns) {
			continue
		}
		out = append(out, top)
	}
	return g.named(ctx, out)
}

// References lists the objects outside schema that objects of schema
// depend on — a type, a table, a function of another schema — leaving out
// the system's own (pg_catalog and the like), sorted by description.
func References(ctx context.Context, q Querier, schema string) ([]Dependent, error) {
	g, err := loadDepGraph(ctx, q)
	if err != nil {
		return nil, err
	}
	return g.references(ctx, schema)
}

// SchemaDependencies lists, for each of schemas, the objects outside it
// that depend on it (Dependents) and those it depends on (References),
// reading pg_depend once.
func SchemaDependencies(ctx context.Context, q Querier, schemas []string) (dependents, references map[string][]Dependent, err error) {
	g, err := loadDepGraph(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	dependents, references = map[string][]Dependent{}, map[string][]Dependent{}
	for _, s := range schemas {
		if dependents[s], err = g.dependents(ctx, []string{s}); err != nil {
			return nil, nil, err
		}
		if references[s], err = g.references(ctx, s); err != nil {
			return nil, nil, err
		}
	}
	return dependents, references, nil
}

func (g *depGraph) references(ctx context.Context, schema string) ([]Dependent, error) {
	objs, err := g.dropped(ctx, []string{schema})
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	var refs []objAddr
	seen := map[objAddr]bool{}
	for _, obj := range objs {
		// An object of schema, not an outside dependent nor a part of one
		// (a foreign key's triggers on the table it references).
		if ns, ok := g.home(g.owner(obj, 0), 0); !ok || !slices.Contains(g.set, ns) {
			continue
		}
		for _, d := range g.byObj[obj.key()] {
			// A whole object stands for its columns too.
			if (obj.sub != 0 && d.obj.sub != obj.sub) || d.ref.id < firstNormalObjectID || d.ref.class == g.nsClass {
				continue
			}
			ref := objAddr{d.ref.class, d.ref.id, d.ref.sub}
			if !seen[ref] {
				seen[ref] = true
				refs = append(refs, ref)
			}
		}
	}
	if err := g.describe(ctx, refs); err != nil {
		return nil, err
	}
	tops := make([]objAddr, len(refs))
	for i, ref := range refs {
		tops[i] = ref
		if ref.sub == 0 {
			tops[i] = g.owner(ref, 0)
		}
	}
	if err := g.describe(ctx, tops); err != nil {
		return nil, err
	}
	var out []objAddr
	reported := map[objAddr]bool{}
	for _, top := range tops {
		if reported[top] {
			continue
		}
		reported[top] = true
		if ns, ok := g.home(top, 0); ok && slices.Contains(g.set, ns) {
			continue
		}
		out = append(out, top)
	}
	return g.named(ctx, out)
}

// firstNormalObjectID is the first OID of objects that are not the
// system's own.
const firstNormalObjectID = 16384

type depEdge struct {
	obj, ref objAddr
	deptype  byte
}

// depGraph is pg_depend in memory, with what is known of the objects.
type depGraph struct {
	q       Querier
	set     []uint32 // namespace OIDs of the schemas asked about
	nsClass uint32
	byRef   map[objKey][]depEdge
	byObj   map[objKey][]depEdge
	info    map[objAddr]objInfo
}

type objInfo struct {
	desc string
	ns   *uint32
}

// setOf makes schemas the set the graph is asked about.
func (g *depGraph) setOf(ctx context.Context, schemas []string) error {
	rows, err := g.q.Query(ctx, "SELECT oid FROM pg_namespace WHERE nspname = ANY($1)", schemas)
	if err != nil {
		return fmt.Errorf("look up schemas: %w", err)
	}
	if g.set, err = pgx.CollectRows(rows, pgx.RowTo[uint32]); err != nil {
		return fmt.Errorf("look up schemas: %w", err)
	}
	return nil
}

func loadDepGraph(ctx context.Context, q Querier) (*depGraph, error) {
	g := &depGraph{q: q, byRef: map[objKey][]depEdge{}, byObj: map[objKey][]depEdge{}, info: map[objAddr]objInfo{}}
	rows, err := q.Query(ctx, `SELECT classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype
		FROM pg_depend WHERE deptype <> 'p'`)
	if err != nil {
		return nil, fmt.Errorf("read pg_depend: %w", err)
	}
	var e depEdge
	var deptype string
	_, err = pgx.ForEachRow(rows, []any{&e.obj.class, &e.obj.id, &e.obj.sub, &e.ref.class, &e.ref.id, &e.ref.sub, &deptype}, func() error {
		e.deptype = deptype[0]
		g.byRef[e.ref.key()] = append(g.byRef[e.ref.key()], e)
		g.byObj[e.obj.key()] = append(g.byObj[e.obj.key()], e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pg_depend: %w", err)
	}
	if err := q.QueryRow(ctx, "SELECT 'pg_namespace'::regclass::oid").Scan(&g.nsClass); err != nil {
		return nil, err
	}
	return g, nil
}

// dropped makes schemas the set and returns, described, every object
// DROP SCHEMA … CASCADE of them removes but the schemas themselves.
func (g *depGraph) dropped(ctx context.Context, schemas []string) ([]objAddr, error) {
	if err := g.setOf(ctx, schemas); err != nil || len(g.set) == 0 {
		return nil, err
	}
	var objs []objAddr
	for a := range g.closure() {
		if a.class != g.nsClass {
			objs = append(objs, a)
		}
	}
	return objs, g.describe(ctx, objs)
}

// closure is what DROP SCHEMA … CASCADE of the set removes: from every
// object to those depending on it, and from a part to what it is an
// internal part of.
func (g *depGraph) closure() map[objAddr]bool {
	seen := map[objAddr]bool{}
	var queue []objAddr
	push := func(a objAddr) {
		if !seen[a] {
			seen[a] = true
			queue = append(queue, a)
		}
	}
	for _, ns := range g.set {
		push(objAddr{g.nsClass, ns, 0})
	}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, d := range g.byRef[x.key()] {
			if x.sub == 0 || d.ref.sub == x.sub {
				push(d.obj)
			}
		}
		if x.sub == 0 {
			for _, d := range g.byObj[x.key()] {
				if d.deptype == 'i' || d.deptype == 'e' {
					push(objAddr{d.ref.class, d.ref.id, 0})
				}
			}
		}
	}
	return seen
}

// describe reads the descriptions and namespaces of objs not yet known.
func (g *depGraph) describe(ctx context.Context, objs []objAddr) error {
	var cls, ids []uint32
	var subs []int32
	for _, a := range objs {
		if _, ok := g.info[a]; !ok {
			cls, ids, subs = append(cls, a.class), append(ids, a.id), append(subs, a.sub)
		}
	}
	if len(cls) == 0 {
		return nil
	}
	rows, err := g.q.Query(ctx, homeQuery, cls, ids, subs)
	if err != nil {
		return fmt.Errorf("describe dependent objects: %w", err)
	}
	var a objAddr
	var f objInfo
	_, err = pgx.ForEachRow(rows, []any{&a.class, &a.id, &a.sub, &f.desc, &f.ns}, func() error {
		g.info[a] = f
		return nil
	})
	if err != nil {
		return fmt.Errorf("describe dependent objects: %w", err)
	}
	return nil
}

// owner is the object a part belongs to (a view's rewrite rule and row
// type, a table's TOAST table, an array type): dropping the part means
// dropping its owner, and the owner is what a person knows by name.
func (g *depGraph) owner(a objAddr, depth int) objAddr {
	if depth > 8 || a.sub != 0 {
		return a
	}
	for _, d := range g.byObj[a.key()] {
		if d.obj.sub == 0 && d.deptype == 'i' {
			return g.owner(objAddr{d.ref.class, d.ref.id, 0}, depth+1)
		}
	}
	return a
}

// home finds the namespace an object belongs to, through the object it is
// an automatic part of when it has none of its own. TOAST tables and their
// indexes live in pg_toast but belong to the table they serve.
func (g *depGraph) home(a objAddr, depth int) (uint32, bool) {
	if f, ok := g.info[a]; ok && f.ns != nil && *f.ns != toastNamespace {
		return *f.ns, true
	}
	if depth > 8 {
		return 0, false
	}
	if a.sub != 0 {
		// A column is where its table is.
		return g.home(objAddr{a.class, a.id, 0}, depth+1)
	}
	for _, d := range g.byObj[a.key()] {
		if d.obj.sub == a.sub && (d.deptype == 'a' || d.deptype == 'i') {
			if ns, ok := g.home(objAddr{d.ref.class, d.ref.id, 0}, depth+1); ok {
				return ns, true
			}
		}
	}
	return 0, false
}

// named turns objects into Dependents, with their schemas' names, sorted.
func (g *depGraph) named(ctx context.Context, objs []objAddr) ([]Dependent, error) {
	out := make([]Dependent, len(objs))
	homes := make([]uint32, len(objs))
	var nss []uint32
	for i, a := range objs {
		out[i].Object = g.info[a].desc
		if ns, ok := g.home(a, 0); ok {
			homes[i] = ns
			nss = append(nss, ns)
		}
	}
	if len(nss) > 0 {
		rows, err := g.q.Query(ctx, "SELECT oid, nspname FROM pg_namespace WHERE oid = ANY($1)", nss)
		if err != nil {
			return nil, fmt.Errorf("describe dependent objects: %w", err)
		}
		names := map[uint32]string{}
		var oid uint32
		var name string
		if _, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error { names[oid] = name; return nil }); err != nil {
			return nil, fmt.Errorf("describe dependent objects: %w", err)
		}
		for i := range out {
			out[i].Schema = names[homes[i]]
		}
	}
	slices.SortFunc(out, func(a, b Dependent) int { return strings.Compare(a.Object, b.Object) })
	return slices.Compact(out), nil
}

// homeQuery describes objects and finds the namespace of those that have
// one, or belong to a table or type that has one.
const homeQuery = `SELECT t.c, t.o, t.s, coalesce(pg_describe_object(t.c, t.o, t.s), t.c::regclass::text || ' ' || t.o),
  CASE t.c
    WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = t.o)
    WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = t.o)
    WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = t.o)
    WHEN 'pg_constraint'::regclass THEN (SELECT coalesce(
        (SELECT relnamespace FROM pg_class WHERE oid = k.conrelid),
        (SELECT typnamespace FROM pg_type WHERE oid = k.contypid), k.connamespace)
      FROM pg_constraint k WHERE k.oid = t.o)
    WHEN 'pg_attrdef'::regclass THEN (SELECT r.relnamespace FROM pg_attrdef x JOIN pg_class r ON r.oid = x.adrelid WHERE x.oid = t.o)
    WHEN 'pg_trigger'::regclass THEN (SELECT r.relnamespace FROM pg_trigger x JOIN pg_class r ON r.oid = x.tgrelid WHERE x.oid = t.o)
    WHEN 'pg_rewrite'::regclass THEN (SELECT r.relnamespace FROM pg_rewrite x JOIN pg_class r ON r.oid = x.ev_class WHERE x.oid = t.o)
    WHEN 'pg_policy'::regclass THEN (SELECT r.relnamespace FROM pg_policy x JOIN pg_class r ON r.oid = x.polrelid WHERE x.oid = t.o)
    WHEN 'pg_operator'::regclass THEN (SELECT oprnamespace FROM pg_operator WHERE oid = t.o)
    WHEN 'pg_opclass'::regclass THEN (SELECT opcnamespace FROM pg_opclass WHERE oid = t.o)
    WHEN 'pg_opfamily'::regclass THEN (SELECT opfnamespace FROM pg_opfamily WHERE oid = t.o)
    WHEN 'pg_collation'::regclass THEN (SELECT collnamespace FROM pg_collation WHERE oid = t.o)
    WHEN 'pg_conversion'::regclass THEN (SELECT connamespace FROM pg_conversion WHERE oid = t.o)
    WHEN 'pg_statistic_ext'::regclass THEN (SELECT stxnamespace FROM pg_statistic_ext WHERE oid = t.o)
    WHEN 'pg_ts_config'::regclass THEN (SELECT cfgnamespace FROM pg_ts_config WHERE oid = t.o)
    WHEN 'pg_ts_dict'::regclass THEN (SELECT dictnamespace FROM pg_ts_dict WHERE oid = t.o)
    WHEN 'pg_ts_parser'::regclass THEN (SELECT prsnamespace FROM pg_ts_parser WHERE oid = t.o)
    WHEN 'pg_ts_template'::regclass THEN (SELECT tmplnamespace FROM pg_ts_template WHERE oid = t.o)
  END
FROM unnest($1::oid[], $2::oid[], $3::int4[]) AS t(c, o, s)`

// toastNamespace is the OID of pg_toast.
const toastNamespace = 99

// objAddr is an object address as pg_depend records it.
type objAddr struct {
	class, id uint32
	sub       int32
}

// objKey is an object without its sub-object (column) number.
type objKey struct{ class, id uint32 }

func (a objAddr) key() objKey { return objKey{a.class, a.id} }

// Querier is what Dependents needs of a connection or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DependentsError refuses a restore that would drop or alter objects
// outside the restored schemas.
type DependentsError struct {
	Schemas    []string
	Dependents []Dependent
}

func (e *DependentsError) Error() string {
	var b strings.Builder
	quoted := make([]string, len(e.Schemas))
	for i, s := range e.Schemas {
		quoted[i] = quoteName(s)
	}
	fmt.Fprintf(&b, "replacing schema %s would drop or alter %d object(s) outside it:", strings.Join(quoted, ", "), len(e.Dependents))
	for _, d := range e.Dependents {
		fmt.Fprintf(&b, "\n  - %s", d.Object)
	}
	b.WriteString("\nrestore the schemas they belong to together with it, drop or recreate them yourself, or plan with --cascade to drop them (the plan then lists each)")
	return b.String()
}
