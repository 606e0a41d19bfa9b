package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// ErrSchemaNotFound is matched (errors.Is) by the errors reporting that a
// schema does not exist.
var ErrSchemaNotFound = errors.New("schema not found")

// schemaNotFound is the error for a missing schema: its message reads
// `schema "x" does not exist in database "y"`.
func schemaNotFound(schema, db string) error {
	return &notFoundError{schema: schema, db: db}
}

type notFoundError struct{ schema, db string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("schema %q does not exist in database %q (is dbname in the database block the database that holds it?)", e.schema, e.db)
}
func (e *notFoundError) Is(target error) bool { return target == ErrSchemaNotFound }

// Snapshot is an open REPEATABLE READ, READ ONLY transaction that exported
// its snapshot with pg_export_snapshot(). While it is open, pg_dump
// --snapshot=ID (Dump with DumpOptions.Snapshot) sees the database exactly
// as this transaction does; its methods answer questions inside that same
// snapshot. It holds one connection and, like any long transaction, keeps
// VACUUM from removing rows newer than the snapshot: Close it promptly.
// Its methods are safe for concurrent use (they are serialised).
type Snapshot struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	tx      pgx.Tx
	id      string
	db      string
	version int
	text    string
	closed  bool
}

// ExportSnapshot connects to c and exports a snapshot held until Close.
func ExportSnapshot(ctx context.Context, c ConnConfig) (*Snapshot, error) {
	conn, err := Connect(ctx, c)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{conn: conn}
	if err := s.open(ctx); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx)) // the open error is the one to report
		return nil, fmt.Errorf("export snapshot of %s: %w", c, err)
	}
	return s, nil
}

func (s *Snapshot) open(ctx context.Context) error {
	tx, err := s.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	s.tx = tx
	err = tx.QueryRow(ctx, `SELECT pg_export_snapshot(), current_database(),
		current_setting('server_version_num')::int, current_setting('server_version')`).
		Scan(&s.id, &s.db, &s.version, &s.text)
	if err != nil {
		return err
	}
	return nil
}

// ID returns the snapshot identifier to pass to pg_dump --snapshot.
func (s *Snapshot) ID() string { return s.id }

// Database returns the name of the database the snapshot was taken in.
func (s *Snapshot) Database() string { return s.db }

// ServerVersion returns server_version_num (e.g. 150018) and the version
// text of the server.
func (s *Snapshot) ServerVersion() (num int, text string) { return s.version, s.text }

// TableStat describes one table (ordinary, partitioned or materialized view).
type TableStat struct {
	Name string
	// RowEstimate is pg_class.reltuples: the row count as of the last
	// VACUUM or ANALYZE; -1 for a table never analyzed (unknown), 0 for a
	// partitioned parent (its partitions count, so rows are not counted
	// twice).
	RowEstimate int64
	// Bytes is pg_total_relation_size: heap, TOAST and indexes.
	Bytes int64
}

// SchemaStats sums up a schema (or a database) for plans: cheap catalog
// figures, not counts.
type SchemaStats struct {
	Exists bool
	// Tables counts ordinary and partitioned tables and materialized views
	// (each partition is a table of its own).
	Tables int
	// RowEstimate sums the estimates of the tables that have one;
	// Unanalyzed counts those that have none (never analyzed).
	RowEstimate int64
	Unanalyzed  int
	Bytes       int64
	// Detail holds one entry per table, sorted by name (schema-qualified in
	// DatabaseStats).
	Detail []TableStat
}

const statsQuery = `
SELECT CASE WHEN $2 THEN quote_ident(n.nspname) || '.' ELSE '' END || c.relname,
       CASE WHEN c.relkind = 'p' THEN 0 WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples END::bigint,
       pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND ($1::text IS NULL AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
       OR n.nspname = $1)
ORDER BY 1`

// SchemaStats returns the figures of one schema as of the snapshot. A
// missing schema yields SchemaStats{Exists: false} and an error matching
// ErrSchemaNotFound.
func (s *Snapshot) SchemaStats(ctx context.Context, schema string) (SchemaStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return SchemaStats{}, errors.New("snapshot is closed")
	}
	var exists bool
	if err := s.tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return SchemaStats{}, fmt.Errorf("stats of schema %q: %w", schema, err)
	}
	if !exists {
		return SchemaStats{}, schemaNotFound(schema, s.db)
	}
	st, err := s.stats(ctx, &schema)
	if err != nil {
		return SchemaStats{}, fmt.Errorf("stats of schema %q: %w", schema, err)
	}
	return st, nil
}

// DatabaseStats returns the figures of every non-system schema of the
// database as of the snapshot.
func (s *Snapshot) DatabaseStats(ctx context.Context) (SchemaStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return SchemaStats{}, errors.New("snapshot is closed")
	}
	st, err := s.stats(ctx, nil)
	if err != nil {
		return SchemaStats{}, fmt.Errorf("stats of database %q: %w", s.db, err)
	}
	return st, nil
}

func (s *Snapshot) stats(ctx context.Context, schema *string) (SchemaStats, error) {
	rows, err := s.tx.Query(ctx, statsQuery, schema, schema == nil)
	if err != nil {
		return SchemaStats{}, err
	}
	st := SchemaStats{Exists: true}
	for rows.Next() {
		var t TableStat
		if err := rows.Scan(&t.Name, &t.RowEstimate, &t.Bytes); err != nil {
			return SchemaStats{}, err
		}
		st.Detail = append(st.Detail, t)
		st.Tables++
		if t.RowEstimate < 0 {
			st.Unanalyzed++
		} else {
			st.RowEstimate += t.RowEstimate
		}
		st.Bytes += t.Bytes
	}
	return st, rows.Err()
}

// Schemas lists the non-system schemas of the database as of the snapshot,
// sorted.
func (s *Snapshot) Schemas(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("snapshot is closed")
	}
	rows, err := s.tx.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname <> 'information_schema' AND nspname !~ '^pg_' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list schemas of %q: %w", s.db, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list schemas of %q: %w", s.db, err)
	}
	return names, nil
}

// Close ends the transaction (releasing the snapshot) and the connection.
// Dumps still using the snapshot must have finished. Close is idempotent.
func (s *Snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx := context.Background()
	var errs []error
	if s.tx != nil {
		if err := s.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.conn.Close(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close snapshot %s: %w", s.id, err)
	}
	return nil
}

// Dependents lists, as of the snapshot, the objects outside schemas that
// replacing them would drop or alter (see the package function Dependents).
func (s *Snapshot) Dependents(ctx context.Context, schemas []string) ([]Dependent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("snapshot is closed")
	}
	deps, err := Dependents(ctx, s.tx, schemas)
	if err != nil {
		return nil, fmt.Errorf("objects depending on the schemas of %q: %w", s.db, err)
	}
	return deps, nil
}

// SchemaDependencies lists, as of the snapshot, for each of schemas the
// objects outside it that depend on it and those it depends on.
func (s *Snapshot) SchemaDependencies(ctx context.Context, schemas []string) (dependents, references map[string][]Dependent, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New("snapshot is closed")
	}
	dependents, references, err = SchemaDependencies(ctx, s.tx, schemas)
	if err != nil {
		return nil, nil, fmt.Errorf("dependencies of the schemas of %q: %w", s.db, err)
	}
	return dependents, references, nil
}
