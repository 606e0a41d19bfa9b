package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/planb-backup/planb/providers/internal/child"
)

// RestoreOptions selects what Restore does with a whole-database dump.
type RestoreOptions struct {
	// Clean replaces the objects the dump holds (pg_restore --clean
	// --if-exists).
	Clean bool
	// NoOwner restores objects owned by the connecting user instead of
	// their original owners (pg_restore --no-owner), for servers where the
	// original roles do not exist.
	NoOwner bool
}

// Restore runs pg_restore on the custom-format dump of a whole database read
// from r into database c.DBName, with --exit-on-error --single-transaction:
// it restores all of the dump or nothing. Schemas are restored with
// RestoreSet.
func Restore(ctx context.Context, c ConnConfig, opts RestoreOptions, r io.Reader) error {
	if err := restoreDatabase(ctx, c, opts, r); err != nil {
		return fmt.Errorf("restore database %q: %w", c.DBName, err)
	}
	return nil
}

func restoreCommand(ctx context.Context, c ConnConfig, opts RestoreOptions, r io.Reader) (*exec.Cmd, error) {
	path, err := c.program("pg_restore")
	if err != nil {
		return nil, err
	}
	args := []string{"--exit-on-error", "--single-transaction", "--no-password"}
	args = append(args, hostArgs(c)...)
	if opts.NoOwner {
		args = append(args, "--no-owner")
	}
	if opts.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	db := c.DBName
	if db == "" {
		db = c.User
	}
	args = append(args, "--dbname="+dbnameArg(db))
	cmd := exec.CommandContext(ctx, path, args...)
	child.DieWithParent(cmd)
	cmd.Env = c.childEnv()
	cmd.Stdin = r
	return cmd, nil
}

// dbnameArg is the value of pg_restore --dbname for database name: always
// a connection string (dbname='…'), because pg_restore takes a bare value
// containing "=" or starting with postgres:// for one.
func dbnameArg(name string) string {
	return "dbname=" + libpqQuote(name)
}

func libpqQuote(v string) string {
	out := []byte{'\''}
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, v[i])
	}
	return string(append(out, '\''))
}

func restoreDatabase(ctx context.Context, c ConnConfig, opts RestoreOptions, r io.Reader) error {
	// Connect first: pg_restore reads its input before it connects, and
	// connection problems are clearer from pgx.
	conn, err := Connect(ctx, c)
	if err != nil {
		return err
	}
	if err := conn.Close(ctx); err != nil {
		return err
	}
	cmd, err := restoreCommand(ctx, c, opts, r)
	if err != nil {
		return err
	}
	return runChild(cmd, c)
}

// AsidePrefix starts the names of schemas earlier versions of planb moved
// aside while restoring: such a schema outlives its restore only when planb
// was killed in the middle, and holds the previous contents of the schema
// it replaced. Restores list them and drop those of the schemas they
// replace.
const AsidePrefix = "planb_old_"

// asideComment starts the comment on a schema moved aside; the original
// schema's name follows.
const asideComment = "planb: previous contents of schema "

// Leftover is a schema an interrupted restore moved aside and never dropped.
type Leftover struct {
	Name    string // e.g. planb_old_1f2e3d4c5b6a7988
	Comment string // what it holds and since when
	Of      string // the schema whose previous contents it holds, "" when unknown
}

// Leftovers lists the schemas of database c.DBName that interrupted
// restores moved aside.
func Leftovers(ctx context.Context, c ConnConfig) ([]Leftover, error) {
	conn, err := Connect(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT nspname, coalesce(obj_description(oid, 'pg_namespace'), '')
		FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1`, AsidePrefix)
	if err != nil {
		return nil, fmt.Errorf("look for schemas left by interrupted restores: %w", c.scrub(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Leftover, error) {
		var l Leftover
		err := r.Scan(&l.Name, &l.Comment)
		if rest, ok := strings.CutPrefix(l.Comment, asideComment); ok {
			if i := strings.LastIndex(rest, ", moved aside at "); i >= 0 {
				l.Of = rest[:i]
			}
		}
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("look for schemas left by interrupted restores: %w", c.scrub(err))
	}
	return out, nil
}

// CreateScratchDatabase creates an empty database (from template0, with the
// encoding and locale of c.DBName) named prefix_YYYYMMDDhhmmss_<random>, for
// test restores and restores under another name. drop removes it, forcibly
// ending its sessions; callers must call it (it is safe to call twice).
func CreateScratchDatabase(ctx context.Context, c ConnConfig, prefix string) (name string, drop func(context.Context) error, err error) {
	conn, err := Connect(ctx, c)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var enc, collate, ctype string
	var version int
	err = conn.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding), datcollate, datctype,
		current_setting('server_version_num')::int FROM pg_database WHERE datname = current_database()`).
		Scan(&enc, &collate, &ctype, &version)
	if err != nil {
		return "", nil, fmt.Errorf("create scratch database: read the encoding of %q: %w", c.DBName, err)
	}
	suffix := "_" + time.Now().UTC().Format("20060102150405") + "_" + randomHex(4)
	if len(prefix)+len(suffix) > 63 {
		prefix = prefix[:63-len(suffix)]
	}
	name = prefix + suffix
	ident := pgx.Identifier{name}.Sanitize()
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s",
		ident, quoteLiteral(enc), quoteLiteral(collate), quoteLiteral(ctype)))
	if err != nil {
		return "", nil, fmt.Errorf("create scratch database %q: %w", name, err)
	}
	drop = func(ctx context.Context) error {
		conn, err := Connect(ctx, c)
		if err != nil {
			return fmt.Errorf("drop scratch database %q: %w", name, err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		stmt := "DROP DATABASE IF EXISTS " + ident
		if version >= 130000 {
			stmt += " WITH (FORCE)"
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop scratch database %q: %w", name, err)
		}
		return nil
	}
	return name, drop, nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
