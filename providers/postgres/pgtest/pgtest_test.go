package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestStartSharesOneServer(t *testing.T) {
	a := Start(t)
	b := Start(t)
	if a != b {
		t.Fatal("Start returned two different servers")
	}
	if a.Password == "" || a.Port == 0 {
		t.Fatalf("server lacks password or port: port=%d", a.Port)
	}
	var one int
	if err := a.Conn(t, "postgres").QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestWrongPasswordRejected(t *testing.T) {
	s := Start(t)
	if os.Getenv("PLANB_TEST_DATABASE_URL") != "" {
		t.Skip("external server: its authentication is not ours to check")
	}
	wrong := *s
	wrong.Password = "not-the-password"
	conn, err := pgx.Connect(context.Background(), wrong.URL())
	if err == nil {
		conn.Close(context.Background())
		t.Fatal("connected with a wrong password: host authentication is not enforced")
	}
}

func TestCreateDatabaseIsUnique(t *testing.T) {
	s := Start(t)
	a := s.CreateDatabase(t, "same")
	b := s.CreateDatabase(t, "same")
	if a == b || !strings.HasPrefix(a, "same_") {
		t.Fatalf("CreateDatabase returned %q and %q", a, b)
	}
	long := s.CreateDatabase(t, strings.Repeat("x", 80))
	if len(long) > 63 {
		t.Fatalf("database name %q longer than 63 bytes", long)
	}
}

func TestPsqlStopOnError(t *testing.T) {
	s := Start(t)
	db := s.CreateDatabase(t, "psql")
	file := filepath.Join(t.TempDir(), "x.sql")
	if err := os.WriteFile(file, []byte("SELECT broken;\nCREATE TABLE after_error (id int);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := s.Psql(t, db, file)
	if !strings.Contains(out, "broken") {
		t.Errorf("psql output does not report the error: %q", out)
	}
	var n int
	if err := s.Conn(t, db).QueryRow(context.Background(), "SELECT count(*) FROM pg_class WHERE relname = 'after_error'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("without ON_ERROR_STOP the next statement should run: n=%d err=%v", n, err)
	}
}

func TestLoadSharedTestdata(t *testing.T) {
	if _, err := TestdataDir(); err != nil {
		Missing(t, "%v", err)
	}
	s := Start(t)
	db := s.CreateDatabase(t, "samples")
	s.LoadPagila(t, db, "app_local")
	s.LoadChinook(t, db, "App Central")
	conn := s.Conn(t, db)
	var tracks int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM "App Central".track`).Scan(&tracks); err != nil {
		t.Fatal(err)
	}
	if tracks != 3503 {
		t.Errorf("Chinook track rows = %d, want 3503", tracks)
	}
	var publicTables, domains int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&publicTables); err != nil {
		t.Fatal(err)
	}
	if publicTables != 0 {
		t.Errorf("public holds %d tables after loading Pagila, want an empty public", publicTables)
	}
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'app_local' AND t.typname = 'bıgınt'`).Scan(&domains); err != nil {
		t.Fatal(err)
	}
	if domains != 1 {
		t.Errorf("Pagila domain bıgınt not in app_local")
	}
}

func TestTestdataDir(t *testing.T) {
	orig := os.Getenv(TestdataEnv)
	t.Setenv(TestdataEnv, filepath.Join(t.TempDir(), "absent"))
	if _, err := TestdataDir(); err == nil || !strings.Contains(err.Error(), TestdataEnv) {
		t.Fatalf("with %s naming no folder: err = %v", TestdataEnv, err)
	}
	elsewhere := t.TempDir()
	t.Setenv(TestdataEnv, elsewhere)
	if dir, err := TestdataDir(); err != nil || dir != elsewhere {
		t.Fatalf("with %s=%s: %q, %v", TestdataEnv, elsewhere, dir, err)
	}
	t.Setenv(TestdataEnv, orig)

	dir, err := TestdataDir()
	if err != nil {
		Missing(t, "%v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "chinook.sql")); err != nil {
		t.Fatalf("TestdataDir() = %s without chinook.sql: %v", dir, err)
	}
	t.Setenv(TestdataEnv, "")
	t.Chdir(t.TempDir())
	if _, err := TestdataDir(); err == nil || !strings.Contains(err.Error(), "go.mod") {
		t.Fatalf("outside the module: err = %v, want a go.mod error", err)
	}
}
