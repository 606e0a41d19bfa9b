package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SchemaDescription is a comparable description of a schema: its
// definitions and a checksum of its data. Two schemas with equal
// descriptions (Diff returns nothing) hold the same objects with the same
// definitions and the same rows, whatever their names or databases.
//
// Definitions come from PostgreSQL's own deparsers (pg_get_indexdef,
// pg_get_viewdef, pg_get_functiondef, …) with the schema on the search_path,
// and every remaining "<schema>." qualification replaced by nothing, so a
// schema restored under another name still compares equal. Owners,
// privileges, comments and statistics are not described.
type SchemaDescription struct {
	Schema string
	// Tables holds ordinary and partitioned tables and materialized views,
	// sorted by name.
	Tables []TableDescription
	// Views holds views and materialized views with their queries.
	Views []Definition
	// Functions holds functions, procedures and aggregates; Name carries the
	// argument types, as overloads share a name.
	Functions []Definition
	Sequences []Definition
	// Types holds enums, domains, ranges and standalone composite types.
	Types []Definition
	// Extensions are the extensions installed in the schema; their member
	// objects are not described (a schema dump does not include them).
	Extensions []Definition
}

// TableDescription describes one table's shape and data.
type TableDescription struct {
	Name string
	// Kind is "table", "partitioned table" or "materialized view".
	Kind        string
	Columns     []Column
	Constraints []Definition
	Indexes     []Definition
	Triggers    []Definition
	// Rows is the exact row count (for a partitioned table, 0: its
	// partitions hold the rows).
	Rows int64
	// Checksum is the hex SHA-256 over the md5 of every row's text form,
	// sorted: equal for equal multisets of rows, independent of physical
	// order, and computable for any column type (no ordering operator
	// needed). Empty for a partitioned table and an unpopulated
	// materialized view.
	Checksum string
	// Unpopulated marks a materialized view created WITH NO DATA and never
	// refreshed: it has no rows to read.
	Unpopulated bool
}

// Column describes a table column.
type Column struct {
	Name string
	Type string
	// NotNull is the column's NOT NULL constraint.
	NotNull bool
	// Default is the default or generation expression, "" for none.
	Default string
	// Identity is "a" (ALWAYS), "d" (BY DEFAULT) or "".
	Identity string
	// Generated is "s" for a stored generated column, "" otherwise.
	Generated string
	// Collation is set when it differs from the type's default collation.
	Collation string
}

// Definition is a named object and the SQL that defines it.
type Definition struct {
	Name       string
	Definition string
}

// Describe describes schema as seen by conn, in one REPEATABLE READ, READ
// ONLY transaction (so definitions and data agree). It reads every row of
// every table (one sequential scan and a sort of 32-byte hashes per table):
// its cost is that of a full read of the schema. A missing schema is an
// error matching ErrSchemaNotFound.
func Describe(ctx context.Context, conn *pgx.Conn, schema string) (*SchemaDescription, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("describe schema %q: %w", schema, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to lose
	d, err := describe(ctx, tx, schema)
	if err != nil {
		return nil, fmt.Errorf("describe schema %q: %w", schema, err)
	}
	return d, nil
}

type describer struct {
	tx     pgx.Tx
	nsOID  uint32
	prefix string // the schema's quoted name and a dot, removed from definitions
}

func describe(ctx context.Context, tx pgx.Tx, schema string) (*SchemaDescription, error) {
	var db, quoted string
	var oid *uint32
	err := tx.QueryRow(ctx, `SELECT current_database(), quote_ident($1),
		(SELECT oid FROM pg_namespace WHERE nspname = $1),
		set_config('search_path', quote_ident($1) || ', pg_catalog', true)`, schema).Scan(&db, &quoted, &oid, nil)
	if err != nil {
		return nil, err
	}
	if oid == nil {
		return nil, schemaNotFound(schema, db)
	}
	ds := &describer{tx: tx, nsOID: *oid, prefix: quoted + "."}
	d := &SchemaDescription{Schema: schema}

	tables := map[string]*TableDescription{}
	rows, err := tx.Query(ctx, `SELECT relname, CASE relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
		ELSE 'materialized view' END, NOT relispopulated FROM pg_class
		WHERE relnamespace = $1 AND relkind IN ('r', 'p', 'm') ORDER BY relname`, ds.nsOID)
	if err != nil {
		return nil, err
	}
	d.Tables, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (TableDescription, error) {
		var t TableDescription
		err := row.Scan(&t.Name, &t.Kind, &t.Unpopulated)
		return t, err
	})
	if err != nil {
		return nil, err
	}
	for i := range d.Tables {
		tables[d.Tables[i].Name] = &d.Tables[i]
	}

	if err := ds.columns(ctx, tables); err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}
	perTable := []struct {
		what  string
		query string
		add   func(t *TableDescription, def Definition)
	}{
		{"constraints", `SELECT c.relname, con.conname, pg_get_constraintdef(con.oid, true)
			FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
			WHERE c.relnamespace = $1 ORDER BY 1, 2`,
			func(t *TableDescription, def Definition) { t.Constraints = append(t.Constraints, def) }},
		{"indexes", `SELECT t.relname, i.relname, pg_get_indexdef(i.oid)
			FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
			WHERE t.relnamespace = $1 ORDER BY 1, 2`,
			func(t *TableDescription, def Definition) { t.Indexes = append(t.Indexes, def) }},
		{"triggers", `SELECT c.relname, tg.tgname, pg_get_triggerdef(tg.oid, true)
			FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
			WHERE c.relnamespace = $1 AND NOT tg.tgisinternal ORDER BY 1, 2`,
			func(t *TableDescription, def Definition) { t.Triggers = append(t.Triggers, def) }},
	}
	for _, pt := range perTable {
		err := ds.each(ctx, pt.query, func(table, name, def string) {
			if t := tables[table]; t != nil {
				pt.add(t, Definition{Name: name, Definition: def})
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pt.what, err)
		}
	}

	lists := []struct {
		what  string
		dst   *[]Definition
		query string
	}{
		{"views", &d.Views, `SELECT relname, '', CASE relkind WHEN 'm' THEN 'MATERIALIZED ' ELSE '' END || 'VIEW AS ' || pg_get_viewdef(oid, true)
			FROM pg_class WHERE relnamespace = $1 AND relkind IN ('v', 'm') ORDER BY 1`},
		{"functions", &d.Functions, `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', '',
			CASE WHEN p.prokind = 'a' THEN
				(SELECT format('AGGREGATE (sfunc = %s, stype = %s, finalfunc = %s, initcond = %L)',
					a.aggtransfn::regprocedure, format_type(a.aggtranstype, NULL), a.aggfinalfn::regprocedure, a.agginitval)
				 FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
			ELSE pg_get_functiondef(p.oid) END
			FROM pg_proc p WHERE p.pronamespace = $1 AND NOT EXISTS (SELECT FROM pg_depend e
				WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e') ORDER BY 1`},
		{"sequences", &d.Sequences, `SELECT c.relname, '', format('%s START %s INCREMENT %s MINVALUE %s MAXVALUE %s CACHE %s%s; last_value %s',
				format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
				CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END, coalesce(ps.last_value::text, 'unset'))
			FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
			LEFT JOIN pg_sequences ps ON ps.schemaname = (SELECT nspname FROM pg_namespace WHERE oid = $1) AND ps.sequencename = c.relname
			WHERE c.relnamespace = $1 ORDER BY 1`},
		{"types", &d.Types, `SELECT t.typname, '', CASE t.typtype
				WHEN 'e' THEN 'ENUM (' || (SELECT string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid) || ')'
				WHEN 'd' THEN 'DOMAIN ' || format_type(t.typbasetype, t.typtypmod)
					|| CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
					|| coalesce(' DEFAULT ' || t.typdefault, '')
					|| coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid, true), '' ORDER BY conname)
						FROM pg_constraint WHERE contypid = t.oid), '')
				WHEN 'c' THEN 'COMPOSITE (' || coalesce((SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
						FROM pg_attribute WHERE attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped), '') || ')'
				WHEN 'r' THEN 'RANGE (' || (SELECT format_type(rngsubtype, NULL) FROM pg_range WHERE rngtypid = t.oid) || ')'
				END
			FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
			WHERE t.typnamespace = $1 AND (t.typtype IN ('e', 'd', 'r') OR t.typtype = 'c' AND c.relkind = 'c')
			AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid AND e.deptype = 'e')
			ORDER BY 1`},
		{"extensions", &d.Extensions, `SELECT extname, '', extversion FROM pg_extension WHERE extnamespace = $1 ORDER BY 1`},
	}
	for _, l := range lists {
		err := ds.each(ctx, l.query, func(name, _, def string) {
			*l.dst = append(*l.dst, Definition{Name: name, Definition: def})
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.what, err)
		}
	}

	for i := range d.Tables {
		if err := ds.data(ctx, &d.Tables[i]); err != nil {
			return nil, fmt.Errorf("rows of %q: %w", d.Tables[i].Name, err)
		}
	}
	return d, nil
}

// each runs a query returning (text, text, text) rows and calls fn for each,
// with the schema qualification removed from the third column.
func (ds *describer) each(ctx context.Context, query string, fn func(a, b, def string)) error {
	rows, err := ds.tx.Query(ctx, query, ds.nsOID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		var def *string
		if err := rows.Scan(&a, &b, &def); err != nil {
			return err
		}
		text := ""
		if def != nil {
			text = ds.unqualify(*def)
		}
		fn(a, b, text)
	}
	return rows.Err()
}

func (ds *describer) unqualify(def string) string {
	return strings.ReplaceAll(def, ds.prefix, "")
}

func (ds *describer) columns(ctx context.Context, tables map[string]*TableDescription) error {
	rows, err := ds.tx.Query(ctx, `
		SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
			CASE WHEN a.attcollation <> t.typcollation THEN coalesce(co.collname, '') ELSE '' END
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_collation co ON co.oid = a.attcollation
		WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`, ds.nsOID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var col Column
		if err := rows.Scan(&table, &col.Name, &col.Type, &col.NotNull, &col.Default, &col.Identity, &col.Generated, &col.Collation); err != nil {
			return err
		}
		col.Default = ds.unqualify(col.Default)
		col.Type = ds.unqualify(col.Type)
		if t := tables[table]; t != nil {
			t.Columns = append(t.Columns, col)
		}
	}
	return rows.Err()
}

// data counts the rows of t and checksums them.
func (ds *describer) data(ctx context.Context, t *TableDescription) error {
	if t.Kind == "partitioned table" || t.Unpopulated {
		return nil
	}
	only := ""
	if t.Kind == "table" {
		only = "ONLY "
	}
	ident := pgx.Identifier{t.Name}.Sanitize()
	rows, err := ds.tx.Query(ctx, fmt.Sprintf(
		`SELECT h FROM (SELECT md5(ROW(planb_row.*)::text) AS h FROM %s%s%s AS planb_row) AS hashes ORDER BY h COLLATE "C"`,
		only, ds.prefix, ident))
	if err != nil {
		return err
	}
	defer rows.Close()
	sum := sha256.New()
	var h string
	for rows.Next() {
		if err := rows.Scan(&h); err != nil {
			return err
		}
		sum.Write([]byte(h))
		sum.Write([]byte{'\n'})
		t.Rows++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	t.Checksum = hex.EncodeToString(sum.Sum(nil))
	return nil
}

// Diff lists the differences between a and b, one line each, sorted: "- "
// for what only a has, "+ " for what only b has, "~ " for what both have
// with different definitions or data. It returns nil when they are equal.
// Schema names are not compared.
func (a *SchemaDescription) Diff(b *SchemaDescription) []string {
	ea, eb := a.entries(), b.entries()
	var out []string
	for k, va := range ea {
		vb, ok := eb[k]
		switch {
		case !ok:
			out = append(out, "- "+k+": "+oneLine(va))
		case va != vb:
			out = append(out, "~ "+k+": "+oneLine(va)+" → "+oneLine(vb))
		}
	}
	for k, vb := range eb {
		if _, ok := ea[k]; !ok {
			out = append(out, "+ "+k+": "+oneLine(vb))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return out
}

// entries flattens a description into comparable key → value pairs.
func (d *SchemaDescription) entries() map[string]string {
	e := map[string]string{}
	q := displayIdent
	for _, t := range d.Tables {
		tk := q(t.Name)
		e[t.Kind+" "+tk] = fmt.Sprintf("%d columns", len(t.Columns))
		for i, c := range t.Columns {
			v := fmt.Sprintf("#%d %s", i+1, c.Type)
			if c.Collation != "" {
				v += " COLLATE " + q(c.Collation)
			}
			if c.NotNull {
				v += " NOT NULL"
			}
			switch {
			case c.Generated == "s":
				v += " GENERATED ALWAYS AS " + c.Default + " STORED"
			case c.Identity == "a":
				v += " GENERATED ALWAYS AS IDENTITY"
			case c.Identity == "d":
				v += " GENERATED BY DEFAULT AS IDENTITY"
			case c.Default != "":
				v += " DEFAULT " + c.Default
			}
			e["column "+tk+"."+q(c.Name)] = v
		}
		for _, c := range t.Constraints {
			e["constraint "+q(c.Name)+" on "+tk] = c.Definition
		}
		for _, c := range t.Indexes {
			e["index "+q(c.Name)+" on "+tk] = c.Definition
		}
		for _, c := range t.Triggers {
			e["trigger "+q(c.Name)+" on "+tk] = c.Definition
		}
		switch {
		case t.Unpopulated:
			e["rows of "+tk] = "not populated"
		case t.Kind != "partitioned table":
			e["rows of "+tk] = fmt.Sprintf("%d rows, checksum %s", t.Rows, t.Checksum)
		}
	}
	for _, l := range []struct {
		kind string
		defs []Definition
	}{{"view", d.Views}, {"function", d.Functions}, {"sequence", d.Sequences}, {"type", d.Types}, {"extension", d.Extensions}} {
		for _, def := range l.defs {
			name := def.Name
			if l.kind != "function" {
				name = q(name)
			}
			e[l.kind+" "+name] = def.Definition
		}
	}
	return e
}

// displayIdent quotes a name for diff lines when it is not a plain
// lower-case identifier (keywords are not quoted: the result is for reading,
// not for SQL).
func displayIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}

// oneLine shortens a definition for a diff line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
