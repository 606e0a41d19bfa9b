package postgres

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/planb-backup/planb/providers/internal/child"
	"github.com/planb-backup/planb/providers/internal/tail"
)

// SchemaDump is one schema dump of a set restored together.
type SchemaDump struct {
	// Schema is the schema the dump holds (a dump written by Dump with
	// DumpOptions.Schema).
	Schema string
	// Open opens the dump. RestoreSet opens each dump three times: once
	// for each section (definitions, data, indexes and constraints).
	Open func() (io.ReadCloser, error)
}

// SetOptions selects what RestoreSet does.
type SetOptions struct {
	// Replace drops the schemas of the set that exist before restoring
	// them. Without it, an existing schema is an error.
	Replace bool
	// Cascade lists the objects outside the set that Replace may drop or
	// alter with them (as Dependents describes them). Any other outside
	// object that depends on the set makes RestoreSet fail before it
	// changes anything.
	Cascade []Dependent
	// NoOwner restores objects owned by the connecting user instead of
	// their original owners.
	NoOwner bool
	// LockTimeout bounds every wait for a lock (default 30s). On expiry the
	// error names the sessions holding locks on the schemas.
	LockTimeout time.Duration
	// Rename restores schemas under other names (dump schema → target).
	// Renaming goes through a scratch database: the set and Context are
	// restored there under their own names (so nothing collides with live
	// schemas and references between them resolve), the renamed schemas
	// are renamed with ALTER SCHEMA, dumped again and restored from there.
	// It needs the CREATEDB privilege. ALTER SCHEMA … RENAME updates every
	// reference PostgreSQL tracks, but not names written inside function
	// bodies or SET search_path clauses.
	Rename map[string]string
	// Context are dumps restored beside the set in the scratch database of
	// a renaming restore only: the schemas the set references.
	Context []SchemaDump
	// Drop names schemas dropped in the same transaction, after the same
	// check of what depends on them: what interrupted restores left aside.
	Drop []string
}

// DefaultLockTimeout is how long a restore waits for a lock by default.
const DefaultLockTimeout = 30 * time.Second

// RestoreSet restores a set of schema dumps into database c.DBName in one
// transaction: on success every schema of the set is as its dump holds it;
// on any failure (or a kill of planb, which ends the session) the database
// is exactly as before. Objects of one schema may reference those of
// another (a type, a table, a function): the definitions of every schema are
// created first — in an order that satisfies their references — then the
// data of every schema, then indexes, constraints and triggers.
//
// pg_restore turns each dump into SQL (pg_restore -f -, one section at a
// time); planb runs it over one pgx connection, data through COPY.
func RestoreSet(ctx context.Context, c ConnConfig, dumps []SchemaDump, opts SetOptions) error {
	if err := restoreSet(ctx, c, dumps, opts); err != nil {
		return fmt.Errorf("restore %s into database %q: %w", schemaList(dumps), c.DBName, err)
	}
	return nil
}

func schemaList(dumps []SchemaDump) string {
	names := make([]string, len(dumps))
	for i, d := range dumps {
		names[i] = quoteName(d.Schema)
	}
	if len(names) == 1 {
		return "schema " + names[0]
	}
	return "schemas " + strings.Join(names, ", ")
}

func restoreSet(ctx context.Context, c ConnConfig, dumps []SchemaDump, opts SetOptions) (err error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if len(opts.Rename) > 0 {
		return restoreSetRenamed(ctx, c, dumps, opts)
	}
	// The definitions and the indexes are small: read them before the
	// transaction starts, so that it holds its locks only while it works.
	pre := make([]*script, len(dumps))
	post := make([]*script, len(dumps))
	for i, d := range dumps {
		if pre[i], err = readScript(ctx, c, d, "pre-data", opts.NoOwner); err != nil {
			return err
		}
		if post[i], err = readScript(ctx, c, d, "post-data", opts.NoOwner); err != nil {
			return err
		}
	}
	conn, err := Connect(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return c.scrub(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	schemas := make([]string, len(dumps))
	for i, d := range dumps {
		schemas[i] = d.Schema
	}
	fail := func(err error) error {
		if isLockTimeout(err) {
			return lockError(context.WithoutCancel(ctx), c, schemas, opts.LockTimeout, err)
		}
		return c.scrub(err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0",
		opts.LockTimeout.Milliseconds())); err != nil {
		return fail(err)
	}
	if err := dropExisting(ctx, tx, schemas, opts); err != nil {
		return fail(err)
	}
	if err := runEntries(ctx, tx, pre); err != nil {
		return fail(err)
	}
	for _, d := range dumps {
		if err := runData(ctx, c, tx, d, opts.NoOwner); err != nil {
			return fail(fmt.Errorf("data of schema %s: %w", quoteName(d.Schema), err))
		}
	}
	if err := runEntries(ctx, tx, post); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return nil
}

func restoreSetRenamed(ctx context.Context, c ConnConfig, dumps []SchemaDump, opts SetOptions) (err error) {
	scratch, drop, err := CreateScratchDatabase(ctx, c, "planb_rename")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop(context.WithoutCancel(ctx))) }()
	sc := c.WithDB(scratch)
	all := append(append([]SchemaDump{}, dumps...), opts.Context...)
	if err := restoreSet(ctx, sc, all, SetOptions{NoOwner: opts.NoOwner, LockTimeout: opts.LockTimeout}); err != nil {
		return fmt.Errorf("in scratch database %q: %w", scratch, err)
	}
	conn, err := Connect(ctx, sc)
	if err != nil {
		return err
	}
	for from, to := range opts.Rename {
		if _, err = conn.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{from}.Sanitize()+" RENAME TO "+pgx.Identifier{to}.Sanitize()); err != nil {
			err = fmt.Errorf("rename schema %s to %s in scratch database %q: %w", quoteName(from), quoteName(to), scratch, err)
			break
		}
	}
	err = errors.Join(err, conn.Close(ctx))
	if err != nil {
		return err
	}
	redumps := make([]SchemaDump, len(dumps))
	for i, d := range dumps {
		name := d.Schema
		if to, ok := opts.Rename[name]; ok {
			name = to
		}
		redumps[i] = SchemaDump{Schema: name, Open: func() (io.ReadCloser, error) {
			pr, pw := io.Pipe()
			go func() {
				pw.CloseWithError(Dump(ctx, sc, DumpOptions{Schema: name}, pw))
			}()
			return pr, nil
		}}
	}
	opts.Rename, opts.Context = nil, nil
	return restoreSet(ctx, c, redumps, opts)
}

// dropExisting drops the schemas of the set that exist, after checking that
// nothing outside the set but what opts.Cascade lists depends on them.
func dropExisting(ctx context.Context, tx pgx.Tx, schemas []string, opts SetOptions) error {
	rows, err := tx.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1", schemas)
	if err != nil {
		return err
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(existing) > 0 && !opts.Replace {
		return fmt.Errorf("schema %s already exists (restore with clean to replace it)", quoteName(existing[0]))
	}
	if len(opts.Drop) > 0 {
		rows, err := tx.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1", opts.Drop)
		if err != nil {
			return err
		}
		drop, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		existing = append(existing, drop...)
	}
	if len(existing) == 0 {
		return nil
	}
	// Lock the schemas' relations first, so that no dependent can appear
	// between the check and the drop, and a session using them makes the
	// restore wait (up to the lock timeout) before anything is checked.
	rows, err = tx.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'f') ORDER BY 1`, existing)
	if err != nil {
		return err
	}
	rels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(rels) > 0 {
		if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(rels, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
	}
	deps, err := Dependents(ctx, tx, existing)
	if err != nil {
		return err
	}
	var unlisted []Dependent
	for _, d := range deps {
		listed := false
		for _, ok := range opts.Cascade {
			if ok.Object == d.Object {
				listed = true
				break
			}
		}
		if !listed {
			unlisted = append(unlisted, d)
		}
	}
	if len(unlisted) > 0 {
		return &DependentsError{Schemas: existing, Dependents: unlisted}
	}
	idents := make([]string, len(existing))
	for i, s := range existing {
		idents[i] = pgx.Identifier{s}.Sanitize()
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA "+strings.Join(idents, ", ")+" CASCADE"); err != nil {
		return fmt.Errorf("drop the existing schemas: %w", err)
	}
	return nil
}

// script is a section of a dump as SQL: the settings pg_restore starts
// with, then one entry per object.
type script struct {
	schema   string
	preamble string
	entries  []entry
}

type entry struct {
	header string // "-- Name: t; Type: TABLE; Schema: s; Owner: o"
	sql    string
}

// readScript runs pg_restore --section=section -f - on a dump and splits
// its output into entries.
func readScript(ctx context.Context, c ConnConfig, d SchemaDump, section string, noOwner bool) (*script, error) {
	var out bytes.Buffer
	err := scriptOf(ctx, c, d, section, noOwner, func(r io.Reader) error {
		_, err := out.ReadFrom(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	s := splitScript(out.String())
	s.schema = d.Schema
	return s, nil
}

// scriptOf runs pg_restore on dump d, writing section as SQL, and hands
// its output to consume.
func scriptOf(ctx context.Context, c ConnConfig, d SchemaDump, section string, noOwner bool, consume func(io.Reader) error) error {
	path, err := c.program("pg_restore")
	if err != nil {
		return err
	}
	rc, err := d.Open()
	if err != nil {
		return fmt.Errorf("open the dump of schema %s: %w", quoteName(d.Schema), err)
	}
	defer rc.Close()
	args := []string{"--section=" + section, "--file=-"}
	if noOwner {
		args = append(args, "--no-owner")
	}
	cmd := exec.CommandContext(ctx, path, args...)
	child.DieWithParent(cmd)
	cmd.Env = c.childEnv()
	cmd.Stdin = rc
	stderr := tail.New(stderrLimit)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pg_restore: %w", err)
	}
	consumeErr := consume(stdout)
	if consumeErr != nil {
		// Stop pg_restore: what it writes is no longer read.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	// When pg_restore ended with an error of its own (before the kill), its
	// error is the cause: a dump cut short ends the SQL it writes early.
	ownExit := waitErr != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() > 0
	switch {
	case consumeErr != nil && !ownExit:
		return consumeErr
	case waitErr != nil:
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return c.scrub(fmt.Errorf("pg_restore failed on the dump of schema %s (%v): %s", quoteName(d.Schema), waitErr, msg))
		}
		return c.scrub(fmt.Errorf("pg_restore on the dump of schema %s: %w", quoteName(d.Schema), waitErr))
	}
	return nil
}

// splitScript splits pg_restore's SQL output at the comment it writes
// before each object:
//
//	--
//	-- Name: t; Type: TABLE; Schema: s; Owner: o
//	--
//
// Settings pg_restore writes just before such a comment (SET
// default_tablespace, …) go with the object that follows.
func splitScript(sql string) *script {
	s := &script{}
	var cur *entry
	var text strings.Builder
	flush := func() {
		if cur == nil {
			s.preamble = text.String()
		} else {
			cur.sql = text.String()
			s.entries = append(s.entries, *cur)
		}
		text.Reset()
	}
	lines := strings.SplitAfter(sql, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if isMetaCommand(line) {
			continue
		}
		if line == "--\n" && i+1 < len(lines) && isEntryHeader(lines[i+1]) {
			// Move trailing settings of the previous text to this entry.
			prev := text.String()
			carry := trailingSettings(prev)
			text.Reset()
			text.WriteString(prev[:len(prev)-len(carry)])
			flush()
			cur = &entry{header: strings.TrimSuffix(lines[i+1], "\n")}
			text.WriteString(carry)
		}
		text.WriteString(line)
	}
	flush()
	return s
}

// isMetaCommand reports the psql commands pg_restore writes around its
// output (\restrict KEY … \unrestrict KEY): they are for psql, not the
// server.
func isMetaCommand(line string) bool {
	return strings.HasPrefix(line, "\\restrict ") || strings.HasPrefix(line, "\\unrestrict ")
}

func isEntryHeader(line string) bool {
	return strings.HasPrefix(line, "-- Name: ") || strings.HasPrefix(line, "-- Data for Name: ")
}

// trailingSettings is the tail of text made of SET statements and blank
// lines.
func trailingSettings(text string) string {
	end := len(text)
	for end > 0 {
		start := strings.LastIndexByte(text[:end-1], '\n') + 1
		line := text[start:end]
		if strings.TrimSpace(line) != "" && !(strings.HasPrefix(line, "SET ") && strings.HasSuffix(strings.TrimSpace(line), ";")) {
			break
		}
		end = start
	}
	return text[end:]
}

// runEntries runs the entries of several scripts in one transaction. It
// first runs them all at once, script after script; if that fails (the
// objects of one schema need those of a later one), it runs them one by
// one, each in a savepoint, deferring those that fail until one pass makes
// no progress.
func runEntries(ctx context.Context, tx pgx.Tx, scripts []*script) error {
	var all strings.Builder
	n := 0
	for i, s := range scripts {
		if i == 0 {
			if _, err := tx.Exec(ctx, cleanSettings(s.preamble)); err != nil {
				return fmt.Errorf("settings of schema %s: %w", quoteName(s.schema), err)
			}
		}
		for _, e := range s.entries {
			all.WriteString(e.sql)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT planb_all"); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, all.String())
	if err == nil {
		_, err = tx.Exec(ctx, "RELEASE SAVEPOINT planb_all")
		return err
	}
	if fatal(ctx, err) {
		return err
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT planb_all"); err != nil {
		return err
	}
	type pending struct {
		schema string
		entry
		err error
	}
	var todo []pending
	for _, s := range scripts {
		for _, e := range s.entries {
			todo = append(todo, pending{schema: s.schema, entry: e})
		}
	}
	for len(todo) > 0 {
		var failed []pending
		for _, p := range todo {
			if _, err := tx.Exec(ctx, "SAVEPOINT planb_entry"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, p.sql); err != nil {
				if fatal(ctx, err) {
					return err
				}
				if _, rbErr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT planb_entry"); rbErr != nil {
					return rbErr
				}
				p.err = err
				failed = append(failed, p)
				continue
			}
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT planb_entry"); err != nil {
				return err
			}
		}
		if len(failed) == len(todo) {
			p := failed[0]
			return fmt.Errorf("schema %s, %s: %w", quoteName(p.schema), strings.TrimPrefix(p.header, "-- "), p.err)
		}
		todo = failed
	}
	return nil
}

// fatal reports errors that retrying in another order cannot cure.
func fatal(ctx context.Context, err error) bool {
	var pgErr *pgconn.PgError
	if ctx.Err() != nil || !errors.As(err, &pgErr) {
		return true
	}
	switch pgErr.Code {
	case "55P03", "57014", "40P01": // lock timeout, canceled, deadlock
		return true
	}
	return false
}

// cleanSettings drops the timeouts pg_restore turns off: the restore's own
// settings hold.
func cleanSettings(sql string) string {
	var b strings.Builder
	for line := range strings.Lines(sql) {
		switch strings.TrimSpace(line) {
		case "SET statement_timeout = 0;", "SET lock_timeout = 0;", "SET idle_in_transaction_session_timeout = 0;":
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// runData streams the data section of dump d into the transaction: the
// statements between COPY blocks through Exec, each COPY block through the
// COPY protocol.
func runData(ctx context.Context, c ConnConfig, tx pgx.Tx, d SchemaDump, noOwner bool) error {
	return scriptOf(ctx, c, d, "data", noOwner, func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 1<<20)
		var pending strings.Builder
		execPending := func() error {
			sql := cleanSettings(pending.String())
			pending.Reset()
			if !hasStatement(sql) {
				return nil
			}
			_, err := tx.Exec(ctx, sql)
			return err
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil && err != io.EOF {
				return err
			}
			if strings.HasPrefix(line, "COPY ") {
				stmt := line
				for !strings.HasSuffix(stmt, " FROM stdin;\n") {
					more, err := br.ReadString('\n')
					if err != nil {
						return fmt.Errorf("unterminated COPY statement in pg_restore's output: %q", firstLine(stmt))
					}
					stmt += more
				}
				if err := execPending(); err != nil {
					return err
				}
				cr := &copyReader{br: br, atLineStart: true}
				if _, err := tx.Conn().PgConn().CopyFrom(ctx, cr, strings.TrimSuffix(stmt, ";\n")); err != nil {
					return fmt.Errorf("%s: %w", firstLine(stmt), err)
				}
				if !cr.done {
					return fmt.Errorf("%s: pg_restore's output ended inside the data", firstLine(stmt))
				}
				continue
			}
			if !isMetaCommand(line) {
				pending.WriteString(line)
			}
			if err == io.EOF {
				return execPending()
			}
		}
	})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// hasStatement reports whether sql holds anything but comments and blank
// lines.
func hasStatement(sql string) bool {
	for line := range strings.Lines(sql) {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "--") {
			return true
		}
	}
	return false
}

// copyReader reads the rows of one COPY block of a SQL script, up to the
// line "\." that ends it, which it consumes but does not return.
type copyReader struct {
	br          *bufio.Reader
	atLineStart bool
	done        bool
	rest        []byte
}

// Read fills p with as many rows as fit: every Read becomes one CopyData
// message, so short reads would cost a message (and a write) per row.
func (r *copyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.done {
			break
		}
		if len(r.rest) == 0 {
			line, err := r.br.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				if err != io.EOF {
					return n, err
				}
				if len(line) == 0 {
					if n > 0 {
						return n, nil
					}
					return 0, io.ErrUnexpectedEOF
				}
			}
			if r.atLineStart && (string(line) == "\\.\n" || string(line) == "\\.") {
				r.done = true
				break
			}
			r.atLineStart = len(line) > 0 && line[len(line)-1] == '\n'
			r.rest = line
		}
		c := copy(p[n:], r.rest)
		r.rest = r.rest[c:]
		n += c
		if len(r.rest) > 0 {
			// The rest of the line still sits in the bufio buffer, which
			// the next ReadSlice would overwrite: hand over what fits.
			break
		}
	}
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}

// ExplainLockTimeout turns err, when it is a lock timeout, into an error
// naming the sessions holding locks on the relations of schemas; other
// errors are returned as they are.
func ExplainLockTimeout(ctx context.Context, c ConnConfig, schemas []string, err error) error {
	if !isLockTimeout(err) {
		return err
	}
	return lockError(ctx, c, schemas, c.LockTimeout, err)
}

// isLockTimeout reports whether err is the server giving up a wait for a
// lock (lock_timeout, SQLSTATE 55P03).
func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// lockError explains a lock timeout: which sessions hold locks on the
// schemas' relations.
func lockError(ctx context.Context, c ConnConfig, schemas []string, timeout time.Duration, cause error) error {
	msg := fmt.Sprintf("waited %s for a lock on schema %s", timeout, strings.Join(quoteAll(schemas), ", "))
	holders, err := lockHolders(ctx, c, schemas)
	if err != nil || len(holders) == 0 {
		return fmt.Errorf("%s: %w", msg, c.scrub(cause))
	}
	return fmt.Errorf("%s; held by %s (end those sessions or retry later, or raise --lock-timeout): %w", msg, strings.Join(holders, "; "), c.scrub(cause))
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quoteName(n)
	}
	return out
}

// lockHolders describes the other sessions holding locks on relations of
// schemas, or on anything when none do.
func lockHolders(ctx context.Context, c ConnConfig, schemas []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := Connect(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT DISTINCT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''),
			coalesce(a.state, ''), coalesce(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '')
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.granted AND l.pid <> pg_backend_pid()
		  AND l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1))
		ORDER BY 1`, schemas)
	if err != nil {
		return nil, err
	}
	var out []string
	var pid int
	var user, app, state, since string
	_, err = pgx.ForEachRow(rows, []any{&pid, &user, &app, &state, &since}, func() error {
		out = append(out, fmt.Sprintf("pid %d (user %s, application %q, %s since %s)", pid, user, app, state, since))
		return nil
	})
	return out, err
}
