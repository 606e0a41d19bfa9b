package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// RestoreOptions selects what Restore does with a dump.
type RestoreOptions struct {
	// Schema is the schema the dump holds (a dump written by Dump with
	// DumpOptions.Schema); "" restores a whole-database dump.
	Schema string
	// TargetSchema is the name to restore Schema as; "" means Schema.
	TargetSchema string
	// Clean replaces what exists: the target schema (with everything that
	// depends on it, CASCADE) or, for a whole database, the objects the
	// dump holds (pg_restore --clean --if-exists). Without Clean, an
	// existing target schema is an error.
	Clean bool
	// NoOwner restores objects owned by the connecting user instead of
	// their original owners (pg_restore --no-owner), for servers where the
	// original roles do not exist.
	NoOwner bool
}

// Restore runs pg_restore on the custom-format dump read from r into
// database c.DBName, with --exit-on-error --single-transaction: it restores
// all of the dump or nothing.
//
// A schema restore (opts.Schema set) never leaves the target schema half
// replaced: with Clean, the existing schema is first renamed aside (one pgx
// transaction), pg_restore creates the schema anew, and only then is the old
// schema dropped (CASCADE, so objects elsewhere that depend on it go too);
// if pg_restore fails, the old schema is renamed back.
//
// Restoring under another name (TargetSchema) goes through a scratch
// database: the dump is restored there under its original name (so it never
// collides with a live schema of that name in c.DBName), renamed with ALTER
// SCHEMA, dumped again and streamed into c.DBName; the scratch database is
// dropped afterwards. This costs a second restore and needs the CREATEDB
// privilege. ALTER SCHEMA … RENAME updates every reference PostgreSQL tracks
// (tables, views, defaults, constraints, triggers), but not names written
// inside function bodies or SET search_path clauses: functions that name
// their own schema explicitly keep pointing at the original name.
func Restore(ctx context.Context, c ConnConfig, opts RestoreOptions, r io.Reader) error {
	switch {
	case opts.Schema == "" && opts.TargetSchema != "":
		return fmt.Errorf("restore database %q: a target schema needs the schema of the dump", c.DBName)
	case opts.Schema == "":
		if err := restoreDatabase(ctx, c, opts, r); err != nil {
			return fmt.Errorf("restore database %q: %w", c.DBName, err)
		}
		return nil
	case opts.TargetSchema == "" || opts.TargetSchema == opts.Schema:
		if err := restoreSchema(ctx, c, opts.Schema, opts, r); err != nil {
			return fmt.Errorf("restore schema %q into database %q: %w", opts.Schema, c.DBName, err)
		}
		return nil
	default:
		if err := restoreRenamed(ctx, c, opts, r); err != nil {
			return fmt.Errorf("restore schema %q as %q into database %q: %w", opts.Schema, opts.TargetSchema, c.DBName, err)
		}
		return nil
	}
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
	if opts.Schema == "" && opts.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	db := c.DBName
	if db == "" {
		db = c.User
	}
	args = append(args, "--dbname="+dbnameArg(db))
	cmd := exec.CommandContext(ctx, path, args...)
	dieWithParent(cmd)
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

func restoreSchema(ctx context.Context, c ConnConfig, schema string, opts RestoreOptions, r io.Reader) (err error) {
	conn, err := Connect(ctx, c)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()

	ident := pgx.Identifier{schema}.Sanitize()
	exists, err := schemaExists(ctx, conn, schema)
	if err != nil {
		return err
	}
	var aside string
	if exists {
		if !opts.Clean {
			return fmt.Errorf("schema %q already exists (restore with clean to replace it)", schema)
		}
		aside = AsidePrefix + randomHex(8)
		// The comment tells whoever finds the schema after a crash what it
		// holds (Leftovers reads it back).
		comment := fmt.Sprintf("%s%s, moved aside at %s", asideComment, schema, time.Now().UTC().Format(time.RFC3339))
		move := "ALTER SCHEMA " + ident + " RENAME TO " + pgx.Identifier{aside}.Sanitize() +
			"; COMMENT ON SCHEMA " + pgx.Identifier{aside}.Sanitize() + " IS " + quoteLiteral(comment)
		if _, err := conn.Exec(ctx, move); err != nil {
			return fmt.Errorf("move the existing schema aside: %w", err)
		}
	}
	putBack := func(cause error) error {
		if aside == "" {
			return cause
		}
		if _, err := conn.Exec(context.WithoutCancel(ctx), "ALTER SCHEMA "+pgx.Identifier{aside}.Sanitize()+" RENAME TO "+ident); err != nil {
			return errors.Join(cause, fmt.Errorf("put the previous schema back: it is kept as %q: %w", aside, err))
		}
		return cause
	}

	cmd, err := restoreCommand(ctx, c, RestoreOptions{Schema: schema, NoOwner: opts.NoOwner}, r)
	if err != nil {
		return putBack(err)
	}
	if err := runChild(cmd, c); err != nil {
		return putBack(err)
	}
	restored, err := schemaExists(ctx, conn, schema)
	if err != nil {
		return err
	}
	if !restored {
		return putBack(fmt.Errorf("the dump holds no schema %q", schema))
	}
	if aside != "" {
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{aside}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("drop the previous schema (kept as %q): %w", aside, err)
		}
	}
	return nil
}

func restoreRenamed(ctx context.Context, c ConnConfig, opts RestoreOptions, r io.Reader) (err error) {
	scratch, drop, err := CreateScratchDatabase(ctx, c, "planb_rename")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop(context.WithoutCancel(ctx))) }()
	sc := c.WithDB(scratch)
	if err := restoreSchema(ctx, sc, opts.Schema, RestoreOptions{NoOwner: opts.NoOwner}, r); err != nil {
		return fmt.Errorf("in scratch database %q: %w", scratch, err)
	}
	conn, err := Connect(ctx, sc)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{opts.Schema}.Sanitize()+" RENAME TO "+pgx.Identifier{opts.TargetSchema}.Sanitize())
	err = errors.Join(err, conn.Close(ctx))
	if err != nil {
		return fmt.Errorf("rename in scratch database %q: %w", scratch, err)
	}

	pr, pw := io.Pipe()
	dumpErr := make(chan error, 1)
	go func() {
		err := Dump(ctx, sc, DumpOptions{Schema: opts.TargetSchema}, pw)
		pw.CloseWithError(err)
		dumpErr <- err
	}()
	restoreErr := restoreSchema(ctx, c, opts.TargetSchema, RestoreOptions{Clean: opts.Clean, NoOwner: opts.NoOwner}, pr)
	pr.CloseWithError(errors.New("restore ended"))
	if err := <-dumpErr; err != nil && restoreErr == nil {
		return fmt.Errorf("re-dump from scratch database %q: %w", scratch, err)
	}
	return restoreErr
}

// AsidePrefix starts the names of schemas a restore moved aside. Such a
// schema outlives its restore only when planb was killed in the middle: it
// then holds the previous contents of the schema it replaced.
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

func schemaExists(ctx context.Context, conn *pgx.Conn, schema string) (bool, error) {
	var exists bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up schema %q: %w", schema, err)
	}
	return exists, nil
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
