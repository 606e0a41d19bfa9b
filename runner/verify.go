package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/postgres"
)

// DeepCheck is the outcome of test-restoring one dump.
type DeepCheck struct {
	Entry    string
	Schema   string
	Tables   int
	Rows     int64
	Problems []string
}

// VerifyArchive checks what a restore from the archive checks before it
// touches anything, for every part of the archive: that every entry is safe
// to extract, and every checksum. An archive a restore would refuse fails
// here.
func VerifyArchive(ctx context.Context, rd *archive.Reader) error {
	if err := rd.CheckSafe(archive.SafetyOptions{}); err != nil {
		return fmt.Errorf("restore would refuse it: %w", err)
	}
	return rd.Verify(ctx)
}

// VerifyDeep checks an archive as VerifyArchive does, then restores every
// schema dump it holds into a scratch database on db's server — created for
// the check and dropped afterwards — and compares what was restored with
// what the manifest recorded: the same tables, and rows in every table the
// manifest saw rows in. Archives without manifest are restored and counted
// only.
func VerifyDeep(ctx context.Context, ra io.ReaderAt, size int64, db *config.Database) ([]DeepCheck, error) {
	rd, err := archive.Open(ra, size)
	if err != nil {
		return nil, err
	}
	if err := VerifyArchive(ctx, rd); err != nil {
		return nil, err
	}
	m, err := rd.Manifest()
	if err != nil && !errors.Is(err, archive.ErrNoManifest) {
		return nil, err
	}
	dumps := dumpsOf(rd, m)
	if len(dumps) == 0 {
		return nil, nil
	}
	if db == nil {
		return nil, &UncheckedError{Err: errors.New("the archive holds database dumps, but its resource has no database to restore them on")}
	}
	cc := ConnConfig(db, "")
	return deepCheck(ctx, rd, cc, dumps)
}

// dumpsOf lists the schema dumps of an archive: from its manifest, or by
// entry name for archives without one.
func dumpsOf(rd *archive.Reader, m *archive.Manifest) []archive.SchemaInfo {
	if m != nil {
		var out []archive.SchemaInfo
		for _, s := range m.Schemas {
			if s.Role != "database" {
				out = append(out, s)
			}
		}
		return out
	}
	var out []archive.SchemaInfo
	for _, e := range rd.Entries() {
		if name, ok := strings.CutPrefix(e.Name, "schemas/"); ok && strings.HasSuffix(name, ".cssbackup") {
			out = append(out, archive.SchemaInfo{Name: strings.TrimSuffix(name, ".cssbackup"), Entry: e.Name})
		}
	}
	return out
}

// deepCheck restores every schema dump of an archive together — in one
// transaction, so references between them resolve — into a scratch database
// created for the check and dropped afterwards, and counts what came back.
func deepCheck(ctx context.Context, rd *archive.Reader, cc postgres.ConnConfig, dumps []archive.SchemaInfo) (checks []DeepCheck, err error) {
	return deepCheckIn(ctx, rd, cc, dumps, "planb_verify")
}

// deepCheckIn is deepCheck with a scratch database whose name starts with
// prefix.
func deepCheckIn(ctx context.Context, rd *archive.Reader, cc postgres.ConnConfig, dumps []archive.SchemaInfo, prefix string) (checks []DeepCheck, err error) {
	scratch, drop, err := postgres.CreateScratchDatabase(ctx, cc, prefix)
	if err != nil {
		return nil, &UncheckedError{Err: fmt.Errorf("%w (the test restore needs a database user with the CREATEDB privilege)", err)}
	}
	defer func() { err = errors.Join(err, drop(context.WithoutCancel(ctx))) }()
	sc := cc.WithDB(scratch)
	set := make([]postgres.SchemaDump, len(dumps))
	for i, d := range dumps {
		set[i] = postgres.SchemaDump{Schema: d.Name, Open: func() (io.ReadCloser, error) { return rd.OpenEntry(d.Entry) }}
	}
	if err := postgres.RestoreSet(ctx, sc, set, postgres.SetOptions{NoOwner: true}); err != nil {
		if postgres.IsConnectError(err) {
			return nil, &UncheckedError{Err: err}
		}
		return nil, fmt.Errorf("test-restore: %w", err)
	}
	conn, err := postgres.Connect(ctx, sc)
	if err != nil {
		return nil, &UncheckedError{Err: err}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range dumps {
		c := DeepCheck{Entry: s.Entry, Schema: s.Name}
		counts, err := countRows(ctx, conn, s.Name)
		if err != nil {
			return checks, fmt.Errorf("test-restore %s: %w", s.Entry, err)
		}
		c.Tables = len(counts)
		for _, n := range counts {
			c.Rows += n
		}
		if len(s.TableList) > 0 || s.Tables > 0 {
			c.Problems = compareTables(s, counts)
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// countRows counts the rows of every table of a schema exactly.
func countRows(ctx context.Context, conn *pgx.Conn, schema string) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm') ORDER BY 1`, schema)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(names))
	for _, n := range names {
		var count int64
		q := "SELECT count(*) FROM " + pgx.Identifier{schema, n}.Sanitize()
		if err := conn.QueryRow(ctx, q).Scan(&count); err != nil {
			// A materialized view created WITH NO DATA cannot be scanned.
			if strings.Contains(err.Error(), "has not been populated") {
				counts[n] = 0
				continue
			}
			return nil, fmt.Errorf("count rows of %s: %w", q, err)
		}
		counts[n] = count
	}
	return counts, nil
}

// compareTables compares restored tables with the manifest: the table sets
// must be equal, and a table the manifest saw rows in must not come back
// empty. Row estimates come from the server's statistics, so counts are
// compared with them only for emptiness.
func compareTables(s archive.SchemaInfo, counts map[string]int64) []string {
	var problems []string
	if len(s.TableList) == 0 {
		if s.Tables != len(counts) {
			problems = append(problems, fmt.Sprintf("%d tables restored, the manifest recorded %d", len(counts), s.Tables))
		}
		return problems
	}
	seen := map[string]bool{}
	for _, t := range s.TableList {
		seen[t.Name] = true
		n, ok := counts[t.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("table %s is missing", t.Name))
		case t.RowEstimate > 0 && n == 0:
			problems = append(problems, fmt.Sprintf("table %s is empty, the manifest estimated %d rows", t.Name, t.RowEstimate))
		}
	}
	var extra []string
	for name := range counts {
		if !seen[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		problems = append(problems, fmt.Sprintf("table %s is not in the manifest", name))
	}
	return problems
}
