// Package pgtest starts a throwaway PostgreSQL cluster for integration tests
// and loads test estates into it: the project's own fixture (LoadEstate: an
// application's three schemas, generated from SQL embedded in the package)
// and, when the shared test data folder is present (TestdataDir), the Pagila
// and Chinook samples.
//
// One cluster serves every test of a test binary: Start initdb's and starts
// it on first use, and Main (called from a package's TestMain) stops it and
// removes its files when the tests are done. A watchdog process also stops the
// cluster should the test binary die without running Main's cleanup (a test
// timeout, a kill), so a cluster never outlives its test process for more than
// a second.
//
// When PLANB_TEST_DATABASE_URL is set (a postgres:// URL of a superuser), that
// server is used instead and nothing is started. PLANB_TEST_PG_BINDIR
// overrides the directory of the PostgreSQL server binaries
// (default /usr/lib/postgresql/15/bin). PLANB_TEST_SHARED_TESTDATA overrides
// the shared test data folder (see TestdataDir), and PLANB_TEST_REQUIRE
// turns a missing test requirement from a skip into a failure (see Missing).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBinDir is where Debian's postgresql-15 package installs the server
// binaries.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Server is a running PostgreSQL server reachable over TCP with password
// authentication (scram-sha-256) as superuser User.
type Server struct {
	Host     string
	Port     int
	User     string
	Password string
	// BinDir holds the PostgreSQL client programs matching the server
	// (psql, pg_dump, pg_restore); empty means "look them up in PATH".
	BinDir string

	dir      string    // temp dir holding data/ and the unix socket; "" for an external server
	osUser   string    // "postgres" when running as root, "" otherwise
	watchdog *exec.Cmd // stops the cluster if the test process dies
}

var (
	shared     *Server
	sharedErr  error
	missingMsg string
	startOnce  sync.Once
	stopOnce   sync.Once
	dbCounter  struct {
		sync.Mutex
		n int
	}
)

// Start returns the cluster shared by all tests of the process, starting it
// on first use. When the PostgreSQL binaries (or, running as root, the
// "postgres" OS user or runuser) are absent it reports them Missing: a skip,
// or a failure when RequireEnv is set. It fails t when the cluster cannot be
// started.
func Start(t testing.TB) *Server {
	t.Helper()
	startOnce.Do(func() { shared, missingMsg, sharedErr = start() })
	if missingMsg != "" {
		Missing(t, "%s", missingMsg)
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// Main runs the tests, stops the shared cluster and exits with the tests'
// exit code. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared cluster (if one was started) and removes its
// files. It is safe to call more than once and when no cluster was started.
func StopShared() {
	stopOnce.Do(func() {
		if shared != nil {
			shared.stop()
		}
	})
}

func start() (*Server, string, error) {
	if raw := os.Getenv("PLANB_TEST_DATABASE_URL"); raw != "" {
		s, err := external(raw)
		return s, "", err
	}
	binDir := os.Getenv("PLANB_TEST_PG_BINDIR")
	if binDir == "" {
		binDir = DefaultBinDir
	}
	for _, prog := range []string{"initdb", "pg_ctl", "postgres", "psql"} {
		if _, err := os.Stat(filepath.Join(binDir, prog)); err != nil {
			return nil, fmt.Sprintf("PostgreSQL server binaries absent: %s not found (install postgresql-15 or set PLANB_TEST_PG_BINDIR)", filepath.Join(binDir, prog)), nil
		}
	}
	s := &Server{Host: "127.0.0.1", User: "postgres", Password: randomString(24), BinDir: binDir}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, "running as root and no OS user \"postgres\" to run the PostgreSQL server as", nil
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, "running as root and runuser is absent: cannot run the PostgreSQL server as user postgres", nil
		}
		s.osUser = "postgres"
	}
	dir, err := os.MkdirTemp("", "planb-pgtest-")
	if err != nil {
		return nil, "", err
	}
	s.dir = dir
	if err := s.initAndStart(); err != nil {
		s.stop()
		return nil, "", err
	}
	return s, "", nil
}

func external(raw string) (*Server, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, errors.New("PLANB_TEST_DATABASE_URL is not a valid connection URL")
	}
	s := &Server{Host: cfg.Host, Port: int(cfg.Port), User: cfg.User, Password: cfg.Password}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PLANB_TEST_DATABASE_URL: %w", err)
	}
	return s, conn.Close(ctx)
}

func (s *Server) initAndStart() error {
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}
	if s.osUser != "" {
		if out, err := exec.Command("chown", "-R", s.osUser, s.dir).CombinedOutput(); err != nil {
			return fmt.Errorf("chown %s: %v: %s", s.dir, err, out)
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.asServerUser("initdb", "-D", data, "-U", s.User, "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	if err := os.Remove(pwfile); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, s.dir)
	// The watchdog starts first so that a test process killed while the
	// server starts up leaves nothing behind either.
	s.startWatchdog(data)
	logFile := filepath.Join(s.dir, "server.log")
	if out, err := s.asServerUser("pg_ctl", "-D", data, "-l", logFile, "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		serverLog, _ := os.ReadFile(logFile)
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, serverLog)
	}
	return nil
}

// startWatchdog starts a shell, in its own session so signals to the test
// process do not reach it, that stops the cluster and removes its files once
// the test process is gone.
func (s *Server) startWatchdog(data string) {
	stop := shellQuote(filepath.Join(s.BinDir, "pg_ctl")) + " -D " + shellQuote(data) + " -m immediate stop"
	if s.osUser != "" {
		stop = "runuser -u " + s.osUser + " -- " + stop
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s",
		os.Getpid(), stop, shellQuote(s.dir))
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = newSessionAttr()
	if err := cmd.Start(); err == nil {
		s.watchdog = cmd
	}
}

func (s *Server) stop() {
	if s.dir == "" {
		return
	}
	data := filepath.Join(s.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		// Best effort: the process is exiting; there is no one to report to.
		_ = s.asServerUser("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
	}
	if s.watchdog != nil {
		_ = s.watchdog.Process.Kill()
		_ = s.watchdog.Wait()
	}
	_ = os.RemoveAll(s.dir)
}

// asServerUser returns a command running a server binary as the OS user that
// owns the cluster.
func (s *Server) asServerUser(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(s.BinDir, prog)
	if s.osUser == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", s.osUser, "--", path}, args...)...)
}

// URL returns a postgres:// URL for the server's "postgres" database,
// including the password.
func (s *Server) URL() string {
	return s.DatabaseURL("postgres")
}

// DatabaseURL returns a postgres:// URL for database db, including the
// password.
func (s *Server) DatabaseURL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.User, s.Password),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Conn opens a connection to database db, closed when t ends.
func (s *Server) Conn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DatabaseURL(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %q: %v", db, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// Exec runs sql (one or more statements, simple protocol) in database db.
func (s *Server) Exec(t testing.TB, db, sql string) {
	t.Helper()
	conn := s.Conn(t, db)
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("pgtest: exec in %q: %v\n%s", db, err, sql)
	}
}

// CreateDatabase creates a fresh, empty database (from template0) whose name
// starts with name and is unique per call, and returns that name. The
// database is dropped when t ends.
func (s *Server) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	dbCounter.Lock()
	dbCounter.n++
	n := dbCounter.n
	dbCounter.Unlock()
	suffix := fmt.Sprintf("_%d_%s", n, randomString(4))
	if len(name)+len(suffix) > 63 {
		name = name[:63-len(suffix)]
	}
	db := name + suffix
	ident := pgx.Identifier{db}.Sanitize()
	s.Exec(t, "postgres", "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8'")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			t.Logf("pgtest: drop database %s: %v", ident, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", ident, err)
		}
	})
	return db
}

// PsqlOption changes how Psql runs a file.
type PsqlOption func(*psqlOptions)

type psqlOptions struct{ stopOnError bool }

// StopOnError sets ON_ERROR_STOP: the first failing statement fails the test.
// Without it, psql runs every statement and Psql only returns the output.
func StopOnError() PsqlOption { return func(o *psqlOptions) { o.stopOnError = true } }

// Psql runs the SQL file with psql against database db and returns psql's
// combined output. The password is passed in the environment.
func (s *Server) Psql(t testing.TB, db, file string, opts ...PsqlOption) string {
	t.Helper()
	var o psqlOptions
	for _, opt := range opts {
		opt(&o)
	}
	psql := "psql"
	if s.BinDir != "" {
		psql = filepath.Join(s.BinDir, "psql")
	}
	args := []string{"-X", "-q", "-h", s.Host, "-p", strconv.Itoa(s.Port), "-U", s.User, "-f", file}
	if o.stopOnError {
		args = append(args, "-v", "ON_ERROR_STOP=1")
	}
	cmd := exec.Command(psql, args...)
	cmd.Env = append(cleanEnv(), "PGPASSWORD="+s.Password, "PGDATABASE="+db, "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: psql -f %s in %q: %v\n%s", file, db, err, out)
	}
	return string(out)
}

// cleanEnv is the process environment without libpq's connection variables,
// so a developer's PGHOST or PGSERVICE cannot redirect a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomString(nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
