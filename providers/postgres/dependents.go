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
	rows, err := q.Query(ctx, "SELECT oid FROM pg_namespace WHERE nspname = ANY($1)", schemas)
	if err != nil {
		return nil, fmt.Errorf("look up schemas: %w", err)
	}
	nsOIDs, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return nil, fmt.Errorf("look up schemas: %w", err)
	}
	if len(nsOIDs) == 0 {
		return nil, nil
	}
	rows, err = q.Query(ctx, `SELECT classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype
		FROM pg_depend WHERE deptype <> 'p'`)
	if err != nil {
		return nil, fmt.Errorf("read pg_depend: %w", err)
	}
	type edge struct {
		obj, ref objAddr
		deptype  byte
	}
	byRef := map[objKey][]edge{}
	byObj := map[objKey][]edge{}
	var e edge
	var deptype string
	_, err = pgx.ForEachRow(rows, []any{&e.obj.class, &e.obj.id, &e.obj.sub, &e.ref.class, &e.ref.id, &e.ref.sub, &deptype}, func() error {
		e.deptype = deptype[0]
		byRef[e.ref.key()] = append(byRef[e.ref.key()], e)
		byObj[e.obj.key()] = append(byObj[e.obj.key()], e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pg_depend: %w", err)
	}
	var namespaceClass uint32
	if err := q.QueryRow(ctx, "SELECT 'pg_namespace'::regclass::oid").Scan(&namespaceClass); err != nil {
		return nil, err
	}

	// The closure of what DROP SCHEMA … CASCADE removes.
	seen := map[objAddr]bool{}
	var queue []objAddr
	push := func(a objAddr) {
		if !seen[a] {
			seen[a] = true
			queue = append(queue, a)
		}
	}
	for _, ns := range nsOIDs {
		push(objAddr{namespaceClass, ns, 0})
	}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, d := range byRef[x.key()] {
			if x.sub == 0 || d.ref.sub == x.sub {
				push(d.obj)
			}
		}
		if x.sub == 0 {
			for _, d := range byObj[x.key()] {
				if d.deptype == 'i' || d.deptype == 'e' {
					push(objAddr{d.ref.class, d.ref.id, 0})
				}
			}
		}
	}
	var cls, ids []uint32
	var subs []int32
	for a := range seen {
		if a.class == namespaceClass {
			continue
		}
		cls, ids, subs = append(cls, a.class), append(ids, a.id), append(subs, a.sub)
	}
	if len(cls) == 0 {
		return nil, nil
	}
	rows, err = q.Query(ctx, homeQuery, cls, ids, subs)
	if err != nil {
		return nil, fmt.Errorf("describe dependent objects: %w", err)
	}
	type found struct {
		desc string
		ns   *uint32
	}
	objs := map[objAddr]found{}
	var a objAddr
	var f found
	_, err = pgx.ForEachRow(rows, []any{&a.class, &a.id, &a.sub, &f.desc, &f.ns}, func() error {
		objs[a] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe dependent objects: %w", err)
	}
	// owner is the object a part belongs to (a view's rewrite rule and row
	// type, a table's TOAST table, an array type): dropping the part means
	// dropping its owner, and the owner is what a person knows by name.
	var owner func(a objAddr, depth int) objAddr
	owner = func(a objAddr, depth int) objAddr {
		if depth > 8 || a.sub != 0 {
			return a
		}
		for _, d := range byObj[a.key()] {
			if d.obj.sub == 0 && d.deptype == 'i' {
				return owner(objAddr{d.ref.class, d.ref.id, 0}, depth+1)
			}
		}
		return a
	}
	// home finds the namespace an object belongs to, through the object it
	// is an automatic part of when it has none of its own.
	var home func(a objAddr, depth int) (uint32, bool)
	home = func(a objAddr, depth int) (uint32, bool) {
		// TOAST tables and their indexes live in pg_toast (OID 99) but
		// belong to the table they serve.
		if f, ok := objs[a]; ok && f.ns != nil && *f.ns != toastNamespace {
			return *f.ns, true
		}
		if depth > 8 {
			return 0, false
		}
		for _, d := range byObj[a.key()] {
			if d.obj.sub == a.sub && (d.deptype == 'a' || d.deptype == 'i') {
				if ns, ok := home(objAddr{d.ref.class, d.ref.id, 0}, depth+1); ok {
					return ns, true
				}
			}
		}
		return 0, false
	}
	var outsideNS []uint32
	var out []Dependent
	var homes []uint32 // per out entry; 0 when unknown
	reported := map[objAddr]bool{}
	for obj := range objs {
		top := owner(obj, 0)
		if reported[top] {
			continue
		}
		reported[top] = true
		ns, ok := home(top, 0)
		if ok && slices.Contains(nsOIDs, ns) {
			continue
		}
		desc := objs[top].desc
		if desc == "" {
			desc = objs[obj].desc
		}
		out = append(out, Dependent{Object: desc})
		homes = append(homes, ns)
		if ok {
			outsideNS = append(outsideNS, ns)
		}
	}
	if len(outsideNS) > 0 {
		rows, err := q.Query(ctx, "SELECT oid, nspname FROM pg_namespace WHERE oid = ANY($1)", outsideNS)
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
