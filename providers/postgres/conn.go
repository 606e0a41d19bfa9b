package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ConnConfig says how to reach one database of a PostgreSQL server.
type ConnConfig struct {
	// Host is a host name, an IP address or, starting with "/", the directory
	// of a unix socket. Empty means libpq's default.
	Host string
	// Port is the TCP port (or socket suffix); 0 means 5432.
	Port     int
	User     string
	Password string
	// DBName is the database; empty means the user name.
	DBName string
	// SSLMode is a libpq sslmode (disable, prefer, require, verify-full…);
	// empty means libpq's default, prefer.
	SSLMode string
	// BinDir is the directory holding pg_dump and pg_restore; empty means
	// PATH.
	BinDir string
	// LockTimeout, when set, bounds every wait of the connection's
	// statements for a lock (the session's lock_timeout).
	LockTimeout time.Duration
	// Unusable, when set, is why this server cannot be connected to (a
	// password whose variable has no value): Connect and the pg_dump and
	// pg_restore commands return it instead of trying.
	Unusable error
}

// String describes the connection without the password.
func (c ConnConfig) String() string {
	host := c.Host
	if host == "" {
		host = "localhost"
	}
	port := c.Port
	if port == 0 {
		port = 5432
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, host, port, c.DBName)
}

// GoString hides the password from %#v.
func (c ConnConfig) GoString() string { return "postgres.ConnConfig(" + c.String() + ")" }

// LogValue hides the password from log/slog.
func (c ConnConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("user", c.User), slog.String("dbname", c.DBName))
}

// WithDB returns a copy of c for database name.
func (c ConnConfig) WithDB(name string) ConnConfig {
	c.DBName = name
	return c
}

// pgxConfig builds the pgx configuration. The password is set on the parsed
// config rather than put into the connection string, so no parse error can
// quote it.
func (c ConnConfig) pgxConfig() (*pgx.ConnConfig, error) {
	var kv []string
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, k+"='"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v)+"'")
		}
	}
	add("host", c.Host)
	if c.Port != 0 {
		add("port", strconv.Itoa(c.Port))
	}
	add("user", c.User)
	add("dbname", c.DBName)
	add("sslmode", c.SSLMode)
	add("application_name", "planb")
	cfg, err := pgx.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, fmt.Errorf("connection settings for %s: %w", c, err)
	}
	if c.Password != "" {
		cfg.Password = c.Password
	}
	if c.LockTimeout > 0 {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(c.LockTimeout.Milliseconds(), 10)
	}
	return cfg, nil
}

// Connect opens a pgx connection. Authentication failures are reported as
// such; the password never appears in the error.
func Connect(ctx context.Context, c ConnConfig) (*pgx.Conn, error) {
	if c.Unusable != nil {
		return nil, c.Unusable
	}
	cfg, err := c.pgxConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
			return nil, c.scrub(fmt.Errorf("connect to %s: authentication failed for user %q: %s", c, c.User, pgErr.Message))
		}
		return nil, c.scrub(&connectError{conn: c.String(), reasons: connectReasons(err), err: err})
	}
	return conn, nil
}

// connectError is a failure to reach a server: "connect to
// postgres://user@host:port/db: " and why each try failed, each distinct
// reason once.
type connectError struct {
	conn    string
	reasons []string
	err     error
}

func (e *connectError) Error() string {
	return "connect to " + e.conn + ": " + strings.Join(e.reasons, "; ")
}

func (e *connectError) Unwrap() error { return e.err }

// connectReasons returns why the tries to connect failed, each distinct
// reason once. pgx tries every address of the host, and with sslmode
// prefer each twice (with TLS, then without), so a refused connection
// would otherwise be reported once per try, in the same words.
func connectReasons(err error) []string {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return []string{err.Error()}
	}
	tries := []error{ce.Unwrap()}
	if joined, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		tries = joined.Unwrap()
	}
	var out []string
	for _, t := range tries {
		if r := tryReason(t); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// tryReason says why one try failed: "127.0.0.1:5432: connection refused"
// for a connection that could not be opened, else pgx's words.
func tryReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" && oe.Addr != nil && oe.Err != nil {
		cause := oe.Err.Error()
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			cause = se.Err.Error()
		}
		return oe.Addr.String() + ": " + cause
	}
	return err.Error()
}

// IsConnectError reports whether err is a failure to reach or log in to a
// server, not an error of what was run there.
func IsConnectError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// ServerVersion returns the server's version as server_version_num (e.g.
// 150018) and as text (e.g. "15.18 (Debian 15.18-0+deb12u1)").
func ServerVersion(ctx context.Context, conn *pgx.Conn) (num int, text string, err error) {
	err = conn.QueryRow(ctx,
		"SELECT current_setting('server_version_num')::int, current_setting('server_version')").Scan(&num, &text)
	if err != nil {
		return 0, "", fmt.Errorf("query server version: %w", err)
	}
	return num, text, nil
}

// scrub returns err with every occurrence of the password replaced, keeping
// the chain for errors.Is and errors.As. A password of fewer than 4
// characters is not scrubbed: replacing it would mangle ordinary words.
func (c ConnConfig) scrub(err error) error {
	if err == nil || len(c.Password) < 4 || !strings.Contains(err.Error(), c.Password) {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), c.Password, "(sensitive value)"), err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// program returns the path of a PostgreSQL client program: in BinDir when
// set, else looked up in PATH and, on Windows, in the usual install
// folders (see findProgram).
func (c ConnConfig) program(name string) (string, error) {
	if c.Unusable != nil {
		return "", c.Unusable
	}
	return findProgram(c.BinDir, name)
}

// connEnvVars are the libpq variables a child's environment must not inherit:
// they would override or add to the settings of ConnConfig.
var connEnvVars = []string{
	"PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD",
	"PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGSSLMODE", "PGAPPNAME", "PGOPTIONS",
}

// childEnv is the environment of a pg_dump or pg_restore for c: the parent's
// environment minus libpq's connection variables, plus c's settings. The
// database name goes through PGDATABASE so a name containing "=" is not
// taken for a connection string; the password through PGPASSWORD.
func (c ConnConfig) childEnv() []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, v := range connEnvVars {
			if strings.HasPrefix(kv, v+"=") {
				continue outer
			}
		}
		env = append(env, kv)
	}
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	set("PGHOST", c.Host)
	if c.Port != 0 {
		set("PGPORT", strconv.Itoa(c.Port))
	}
	set("PGUSER", c.User)
	set("PGDATABASE", c.DBName)
	set("PGSSLMODE", c.SSLMode)
	set("PGPASSWORD", c.Password)
	set("PGAPPNAME", "planb")
	return env
}
