package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// server is a throwaway PostgreSQL cluster under dir, reachable on
// 127.0.0.1:port with password authentication.
type server struct {
	binDir   string
	dir      string
	port     int
	user     string
	password string
	osUser   string // "postgres" when running as root
}

// startServer initdb's a cluster under dir and starts it. Durability is off
// (fsync, full_page_writes) and so is autovacuum, so the server's own
// background work does not blur the measurements.
func startServer(binDir, dir string) (*server, error) {
	s := &server{binDir: binDir, dir: dir, user: "postgres", password: randomHex(16)}
	for _, p := range []string{"initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore", "psql"} {
		if _, err := os.Stat(filepath.Join(binDir, p)); err != nil {
			return nil, fmt.Errorf("PostgreSQL binary %s not found (install postgresql-15 or pass -pg-bindir)", filepath.Join(binDir, p))
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root needs an OS user postgres to run the server as")
		}
		s.osUser = "postgres"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(pwfile)
	if s.osUser != "" {
		if out, err := exec.Command("chown", "-R", s.osUser, dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
	}
	if out, err := s.asServerUser("initdb", "-D", s.dataDir(), "-U", s.user, "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"+
		" -c synchronous_commit=off -c autovacuum=off -c max_wal_size=8GB -c shared_buffers=256MB -c max_connections=100", port, dir)
	if out, err := s.asServerUser("pg_ctl", "-D", s.dataDir(), "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return s, nil
}

func (s *server) dataDir() string { return filepath.Join(s.dir, "data") }

// stop stops the server immediately; its files are removed with the work
// directory.
func (s *server) stop() {
	_ = s.asServerUser("pg_ctl", "-D", s.dataDir(), "-m", "immediate", "stop").Run()
}

func (s *server) asServerUser(prog string, args ...string) *exec.Cmd {
	bin := filepath.Join(s.binDir, prog)
	if s.osUser == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("runuser", append([]string{"-u", s.osUser, "--", bin}, args...)...)
}

// env returns the libpq environment for client programs, password included:
// it reaches children by environment, never argv.
func (s *server) env(db string) []string {
	return []string{
		"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(s.port), "PGUSER=" + s.user,
		"PGPASSWORD=" + s.password, "PGDATABASE=" + db,
	}
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", s.user, s.password, s.port, db)
}

// cpu returns the CPU time the server has used so far: the postmaster's own
// time plus that of every backend it has reaped (cutime, cstime). Backends
// still running are not counted; measure between runs, when none serve.
func (s *server) cpu() (time.Duration, error) {
	raw, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	pid := strings.SplitN(string(raw), "\n", 2)[0]
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime..cstime are fields 14..17.
	rest := string(stat)
	rest = rest[strings.LastIndexByte(rest, ')')+2:]
	f := strings.Fields(rest)
	if len(f) < 15 {
		return 0, fmt.Errorf("short /proc/%s/stat", pid)
	}
	var ticks int64
	for _, v := range f[11:15] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
