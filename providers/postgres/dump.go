package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/planb-backup/planb/providers/internal/child"
	"github.com/planb-backup/planb/providers/internal/tail"
)

// DumpOptions selects what Dump writes.
type DumpOptions struct {
	// Schema is the one schema to dump, matched exactly (a name, not a
	// pattern); "" dumps the whole database.
	Schema string
	// Snapshot is an exported snapshot ID (Snapshot.ID) to dump from; ""
	// dumps from a snapshot of pg_dump's own.
	Snapshot string
	// ExtraArgs are appended to pg_dump's arguments (e.g. "--no-comments").
	ExtraArgs []string
}

// stderrLimit bounds how much of a child's stderr an error quotes.
const stderrLimit = 4 << 10

// Dump runs pg_dump and streams its output to w: a custom-format archive
// (-Fc), uncompressed (-Z0) because the archive layer compresses, restorable
// with a plain pg_restore. With opts.Schema it dumps exactly that schema
// (--strict-names: a missing schema fails before anything is written, with
// an error matching ErrSchemaNotFound). pg_dump is taken from c.BinDir or
// PATH; the password reaches it through PGPASSWORD in its environment only.
// A failing pg_dump's error quotes the last 4 KiB of its stderr.
//
// Sequences are not transactional: pg_dump records each sequence's current
// value, not its value as of the snapshot, so a sequence may be restored
// ahead of its table (never behind: no key is handed out twice). w receives
// partial output when pg_dump fails midway: callers write to a temporary
// file or object and discard it on error.
func Dump(ctx context.Context, c ConnConfig, opts DumpOptions, w io.Writer) error {
	what := "database " + quoteName(c.DBName)
	if opts.Schema != "" {
		what = "schema " + quoteName(opts.Schema)
	}
	cmd, err := dumpCommand(ctx, c, opts)
	if err != nil {
		return fmt.Errorf("dump %s: %w", what, err)
	}
	cmd.Stdout = w
	if err := runChild(cmd, c); err != nil {
		if opts.Schema != "" && strings.Contains(err.Error(), "no matching schemas were found") {
			return fmt.Errorf("dump %s: %w", what, schemaNotFound(opts.Schema, c.DBName))
		}
		return fmt.Errorf("dump %s: %w", what, err)
	}
	return nil
}

// dumpCommand builds the pg_dump command for Dump, without its output.
func dumpCommand(ctx context.Context, c ConnConfig, opts DumpOptions) (*exec.Cmd, error) {
	path, err := c.program("pg_dump")
	if err != nil {
		return nil, err
	}
	args := []string{"--format=custom", "--compress=0", "--no-password"}
	args = append(args, hostArgs(c)...)
	if opts.Schema != "" {
		args = append(args, "--schema="+schemaPattern(opts.Schema), "--strict-names")
	}
	if opts.Snapshot != "" {
		args = append(args, "--snapshot="+opts.Snapshot)
	}
	args = append(args, opts.ExtraArgs...)
	cmd := exec.CommandContext(ctx, path, args...)
	child.DieWithParent(cmd)
	cmd.Env = c.childEnv()
	return cmd, nil
}

// hostArgs are the connection arguments shown in argv (so `ps` tells which
// server a child talks to); the database name and password go through the
// environment.
func hostArgs(c ConnConfig) []string {
	var args []string
	if c.Host != "" {
		args = append(args, "--host="+c.Host)
	}
	if c.Port != 0 {
		args = append(args, fmt.Sprintf("--port=%d", c.Port))
	}
	if c.User != "" {
		args = append(args, "--username="+c.User)
	}
	return args
}

// schemaPattern turns a schema name into a pg_dump pattern matching exactly
// that name: double-quoted, so dots, capitals, spaces and * ? are literal,
// with embedded double quotes doubled.
func schemaPattern(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteName quotes a name for messages.
func quoteName(s string) string { return fmt.Sprintf("%q", s) }

// runChild runs cmd, which must have its stdin and stdout set up, and
// returns an error quoting the tail of its stderr (password scrubbed) when
// it fails.
func runChild(cmd *exec.Cmd, c ConnConfig) error {
	stderr := tail.New(stderrLimit)
	cmd.Stderr = stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	name := strings.TrimSuffix(filepath.Base(cmd.Args[0]), exeSuffix)
	msg := strings.TrimSpace(stderr.String())
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && msg != "" {
		return c.scrub(fmt.Errorf("%s failed (%v): %s", name, err, msg))
	}
	return c.scrub(fmt.Errorf("%s: %w", name, err))
}
