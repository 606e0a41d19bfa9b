package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestdataEnv names the environment variable that, when set, replaces the
// shared test data folder: TestdataDir returns its value instead of
// ../shared/testdata. Pointing it at a folder that does not exist runs the
// tests as on a machine without the shared data.
const TestdataEnv = "PLANB_TEST_SHARED_TESTDATA"

// TestdataDir returns the shared test data folder holding the Pagila and
// Chinook samples: $PLANB_TEST_SHARED_TESTDATA when set, otherwise
// ../shared/testdata relative to the repository root (the first directory
// at or above the working directory that holds go.mod). The folder is
// optional: the tests of the project's own fixture (LoadEstate) do not need
// it.
func TestdataDir() (string, error) {
	if td := os.Getenv(TestdataEnv); td != "" {
		if fi, err := os.Stat(td); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("shared testdata folder absent at %s (%s)", td, TestdataEnv)
		}
		return td, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
	td := filepath.Clean(filepath.Join(dir, "..", "shared", "testdata"))
	if fi, err := os.Stat(td); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("shared testdata folder absent at %s", td)
	}
	return td, nil
}

// readTestdata returns a file of the shared test data folder; when the
// folder or the file is absent, it reports them Missing (a skip, or a
// failure under PLANB_TEST_REQUIRE).
func readTestdata(t testing.TB, name string) string {
	t.Helper()
	dir, err := TestdataDir()
	if err != nil {
		Missing(t, "%v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		Missing(t, "shared testdata file absent: %v", err)
	}
	return string(b)
}

// LoadPagila loads the Pagila schema (DDL only: types, domains, functions,
// triggers, views, a partitioned table) into a new schema named schema of
// database db. The dump targets PostgreSQL 18; it is adapted to 15
// (uuidv7() → gen_random_uuid(), VIRTUAL → STORED generated columns) and
// loaded without ON_ERROR_STOP, so the objects needing the vector extension
// are missing. Pagila only loads into "public": LoadPagila empties public,
// loads, renames public to schema and recreates an empty public, so two
// loads into the same database must not run concurrently.
func (s *Server) LoadPagila(t testing.TB, db, schema string) {
	t.Helper()
	src := readTestdata(t, "pagila-schema.sql")
	src = strings.ReplaceAll(src, "uuidv7()", "gen_random_uuid()")
	src = strings.ReplaceAll(src, ") VIRTUAL", ") STORED")
	file := filepath.Join(t.TempDir(), "pagila.sql")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Exec(t, db, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
	out := s.Psql(t, db, file)
	ident := pgx.Identifier{schema}.Sanitize()
	s.Exec(t, db, "ALTER SCHEMA public RENAME TO "+ident+"; CREATE SCHEMA public")
	if n := s.countTables(t, db, schema); n < 10 {
		t.Fatalf("pgtest: Pagila loaded only %d tables into %s:\n%s", n, ident, out)
	}
}

// LoadChinook loads the Chinook database (11 tables with about 15,000 rows)
// into a new schema named schema of database db.
func (s *Server) LoadChinook(t testing.TB, db, schema string) {
	t.Helper()
	src := readTestdata(t, "chinook.sql")
	ident := pgx.Identifier{schema}.Sanitize()
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE SCHEMA %s;\nSET search_path TO %s;\n", ident, ident)
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "DROP DATABASE") || strings.HasPrefix(trimmed, "CREATE DATABASE") || strings.HasPrefix(trimmed, `\c`) {
			continue
		}
		b.WriteString(line)
	}
	file := filepath.Join(t.TempDir(), "chinook.sql")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Psql(t, db, file, StopOnError())
	if n := s.countTables(t, db, schema); n != 11 {
		t.Fatalf("pgtest: Chinook loaded %d tables into %s, want 11", n, ident)
	}
}

func (s *Server) countTables(t testing.TB, db, schema string) int {
	t.Helper()
	var n int
	err := s.Conn(t, db).QueryRow(context.Background(),
		"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
		schema).Scan(&n)
	if err != nil {
		t.Fatalf("pgtest: count tables of %q: %v", schema, err)
	}
	return n
}
