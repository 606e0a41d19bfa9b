package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner/dag"
)

// uploadBuffer is how much of an archive is gathered before it is written
// to its store: the ZIP writer's headers and small entries would otherwise
// cost a system call each.
const uploadBuffer = 1 << 20

// backupRun is the state the steps of one backup share: the snapshot held
// open while the schemas are dumped, the archive being written and what the
// manifest will say.
type backupRun struct {
	r       *config.Resource
	schemas []config.Schema // the schemas dumped
	st      store.Store
	name    string
	start   time.Time

	snap   *postgres.Snapshot
	up     store.Upload
	sent   *sealWriter   // what was written to up
	buf    *bufio.Writer // batches the archive writer's small writes
	w      *archive.Writer
	closed bool
	// beforeStarted is set once the before hooks started: from then on the
	// after hooks must run.
	beforeStarted bool

	mu       sync.Mutex
	manifest archive.Manifest
	// versions are the delivery folder's version folders when the backup
	// began (see noteVersions).
	versions []string
}

// backup builds the steps of a backup action:
//
//	lock → prepare → dump schema … ─┐
//	              → delivery folder ─┼→ archive → release
//	              → options ────────┘
//
// prepare connects, exports one snapshot, checks every schema exists and
// pg_dump is recent enough, and only then creates the partial archive, so
// an unreachable server or a missing schema writes nothing. For file-based
// persistence, prepare runs the before hooks and a step after the copy runs
// the after hooks whatever happened.
func (b *builder) backup(a *plan.Action, r *config.Resource, st store.Store) error {
	run := &backupRun{r: r, st: st, name: a.Archive, schemas: backupSchemas(a, r)}
	env := b.env
	id := func(name string) string { return a.ID + "/" + name }
	lockID := b.lockFor(r, st, id("release"))

	prepare := dag.Step{
		ID:    id("prepare"),
		Label: fmt.Sprintf("prepare backup of %s", r.Address),
		Deps:  b.backupAfter(a, lockID),
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return run.prepare(ctx, env)
		},
	}
	contents := run.contentSteps(id, prepare.ID, env)
	finish := dag.Step{
		ID:    finalStep(a),
		Label: fmt.Sprintf("finish archive %s", a.Archive),
		Deps:  append([]string{prepare.ID}, stepIDs(contents)...),
		Run: func(ctx context.Context, _ *dag.Progress) error {
			if err := run.finish(ctx, env); err != nil {
				return err
			}
			b.verified.add(st.Name(), plan.RefOf(r), a.Archive)
			return nil
		},
	}
	release := dag.Step{
		ID:     id("release"),
		Label:  fmt.Sprintf("release %s", a.Archive),
		Deps:   []string{finish.ID},
		Always: true,
		Run: func(context.Context, *dag.Progress) error {
			return run.release()
		},
	}
	b.addAll(Target{r.Address, st.Name()}, slices.Concat([]dag.Step{prepare}, contents, []dag.Step{finish, release}))
	return nil
}

// backupAfter is what a backup's prepare step waits for: its lock and the
// actions it depends on, and, for a safety backup, the verification of the
// archive the plan restores.
func (b *builder) backupAfter(a *plan.Action, lockID string) []string {
	deps := b.after(a, lockID)
	if b.p.Restore != nil {
		deps = append(deps, restoreVerifyID(b.p))
	}
	return deps
}

// backupSchemas returns the schemas a backup dumps: those of the resource,
// or the ones the action names.
func backupSchemas(a *plan.Action, r *config.Resource) []config.Schema {
	if a.Schemas == nil {
		return r.Schemas
	}
	var out []config.Schema
	for _, s := range r.Schemas {
		if slices.Contains(a.Schemas, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// contentSteps returns the steps that write the archive's contents, each
// after prepare (id names them): a dump per schema, the dump of a
// persistence resource's database, the delivery folder, options.xml, and
// the files of a file-based persistence resource followed by its after
// hooks, which run even when the copy failed.
func (run *backupRun) contentSteps(id func(string) string, prepareID string, env *Env) []dag.Step {
	r := run.r
	var steps []dag.Step
	content := func(name, label string, do func(ctx context.Context, p *dag.Progress) error) {
		steps = append(steps, dag.Step{ID: id(name), Label: label, Deps: []string{prepareID}, Run: do})
	}
	if r.Database != nil {
		for _, s := range run.schemas {
			content("dump/"+s.Name, fmt.Sprintf("dump schema %s", s.Name), run.dumpTo(s.Name, "schemas/"+s.Name+".cssbackup"))
		}
	}
	if r.Kind == config.Persistence && r.Database != nil {
		db := r.Database.DBName
		content("dump/"+db, fmt.Sprintf("dump database %s", db), run.dumpTo("", "databases/"+db+".cssbackup"))
	}
	if r.DeliveryFolder != "" {
		content("delivery", fmt.Sprintf("archive delivery folder %s", r.DeliveryFolder),
			func(ctx context.Context, p *dag.Progress) error { return run.writeDelivery(ctx, p, env) })
	}
	if r.Options != nil {
		content("options", "write options.xml",
			func(ctx context.Context, _ *dag.Progress) error { return run.options(ctx) })
	}
	if r.Path != "" {
		content("files", fmt.Sprintf("copy files of %s", r.Path), run.writeFiles)
		if len(r.Before) > 0 || len(r.After) > 0 {
			steps = append(steps, dag.Step{
				ID:     id("after"),
				Label:  fmt.Sprintf("run after hooks of %s", r.Address),
				Deps:   []string{id("files")},
				Always: true,
				Run: func(ctx context.Context, _ *dag.Progress) error {
					return run.after(ctx, env)
				},
			})
		}
	}
	return steps
}

// dumpTo returns the step function that dumps schema (the whole database
// when empty) into the archive entry name.
func (run *backupRun) dumpTo(schema, name string) func(ctx context.Context, p *dag.Progress) error {
	return func(ctx context.Context, p *dag.Progress) error {
		return run.dump(ctx, p, schema, name)
	}
}

// writeDelivery archives the delivery folder and records it in the
// manifest.
func (run *backupRun) writeDelivery(ctx context.Context, p *dag.Progress, env *Env) error {
	info, err := run.delivery(ctx, p, env, run.r.DeliveryFolder)
	run.mu.Lock()
	run.manifest.Delivery = info
	run.mu.Unlock()
	return err
}

// writeFiles copies the files of a file-based persistence resource into
// the archive and records them in the manifest.
func (run *backupRun) writeFiles(ctx context.Context, p *dag.Progress) error {
	info, err := run.tree(ctx, p, "files/", run.r.Path)
	run.mu.Lock()
	run.manifest.Files = info
	run.mu.Unlock()
	return err
}

// after runs the after hooks once the before hooks ran (prepare runs them),
// with a context of its own: they must run even when the backup was
// interrupted.
func (run *backupRun) after(ctx context.Context, env *Env) error {
	if !run.beforeRan() {
		return nil
	}
	return runCommands(context.WithoutCancel(ctx), run.r.After, env)
}

// beforeRan reports whether the before hooks were started.
func (run *backupRun) beforeRan() bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.beforeStarted
}

// prepare readies a backup, in this order: the manifest's header, the
// snapshot of the database (when the resource has one), the before hooks,
// the store's records of the archive to come, and the partial archive.
func (run *backupRun) prepare(ctx context.Context, env *Env) error {
	run.start = time.Now()
	run.manifest = archive.Manifest{
		FormatVersion: archive.FormatVersion,
		Resource:      run.r.Address,
		Kind:          string(run.r.Kind),
		Name:          run.r.Name,
		PlanbVersion:  env.PlanbVersion,
		Node:          env.Config.Node,
		Safety:        catalog.IsSafety(run.name),
	}
	if run.r.Database != nil {
		if err := run.snapshot(ctx); err != nil {
			return err
		}
	}
	if err := run.before(ctx, env); err != nil {
		return err
	}
	// The store records which node writes the archive before its upload
	// begins, so that plans of other nodes leave it, and its partial,
	// alone. An archive that is never committed leaves a line naming
	// nothing the store holds, which the next backup drops.
	if _, err := noteNode(ctx, run.st, plan.RefOf(run.r), run.name, env.Config.Node); err != nil {
		return err
	}
	if err := run.noteVersions(ctx); err != nil {
		return err
	}
	return run.create(ctx, env)
}

// snapshot exports the snapshot the dumps share, checks that pg_dump can
// dump the server, and records in the manifest the server, the database of
// a persistence resource and the schemas to dump.
func (run *backupRun) snapshot(ctx context.Context) error {
	cc := ConnConfig(run.r.Database, "")
	snap, err := postgres.ExportSnapshot(ctx, cc)
	if err != nil {
		return err
	}
	run.snap = snap
	num, text := snap.ServerVersion()
	client, err := postgres.CheckClient(ctx, cc, num)
	if err != nil {
		return err
	}
	run.manifest.Postgres = &archive.PostgresInfo{
		ServerVersion: text,
		PgDumpVersion: client,
		Snapshot:      snap.ID(),
		Database:      cc.DBName,
		Host:          cc.Host,
	}
	if run.r.Kind == config.Persistence {
		stats, err := snap.DatabaseStats(ctx)
		if err != nil {
			return err
		}
		run.manifest.Schemas = append(run.manifest.Schemas, archive.SchemaInfo{
			Role: "database", Name: cc.DBName, Entry: "databases/" + cc.DBName + ".cssbackup",
			Tables: stats.Tables, RowEstimate: stats.RowEstimate, Bytes: stats.Bytes,
		})
	}
	schemas, err := run.schemaInfos(ctx)
	if err != nil {
		return err
	}
	run.manifest.Schemas = append(run.manifest.Schemas, schemas...)
	return nil
}

// schemaInfos describes the schemas to dump as the snapshot sees them:
// their tables and sizes, and the objects of other schemas that depend on
// them or that they reference.
func (run *backupRun) schemaInfos(ctx context.Context) ([]archive.SchemaInfo, error) {
	names := make([]string, len(run.schemas))
	for i, s := range run.schemas {
		names[i] = s.Name
	}
	dependents, references, err := run.snap.SchemaDependencies(ctx, names)
	if err != nil {
		return nil, err
	}
	var out []archive.SchemaInfo
	for _, s := range run.schemas {
		stats, err := run.snap.SchemaStats(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		info := archive.SchemaInfo{
			Role: s.Role, Name: s.Name, Entry: "schemas/" + s.Name + ".cssbackup",
			Tables: stats.Tables, RowEstimate: stats.RowEstimate, Unanalyzed: stats.Unanalyzed, Bytes: stats.Bytes,
		}
		for _, t := range stats.Detail {
			info.TableList = append(info.TableList, archive.TableInfo{Name: t.Name, RowEstimate: t.RowEstimate})
		}
		for _, d := range dependents[s.Name] {
			info.Dependents = append(info.Dependents, archive.Dependency{Schema: d.Schema, Object: d.Object})
		}
		for _, d := range references[s.Name] {
			info.References = append(info.References, archive.Dependency{Schema: d.Schema, Object: d.Object})
		}
		out = append(out, info)
	}
	return out, nil
}

// before runs the before hooks of a resource with hooks; from then on the
// after hooks must run.
func (run *backupRun) before(ctx context.Context, env *Env) error {
	if len(run.r.Before) == 0 && len(run.r.After) == 0 {
		return nil
	}
	run.mu.Lock()
	run.beforeStarted = true
	run.mu.Unlock()
	return runCommands(ctx, run.r.Before, env)
}

// create starts the partial archive in the store and the writer the
// content steps write into.
func (run *backupRun) create(ctx context.Context, env *Env) error {
	up, err := run.st.Create(ctx, plan.RefOf(run.r), run.name)
	if err != nil {
		return err
	}
	run.mu.Lock()
	run.up = up
	run.sent = newSealWriter(up)
	run.buf = bufio.NewWriterSize(run.sent, uploadBuffer)
	run.w = archive.NewWriter(run.buf, archive.WriterOptions{TempDir: tempDir(env), Workers: env.Workers})
	run.mu.Unlock()
	return nil
}

func (run *backupRun) dump(ctx context.Context, p *dag.Progress, schema, entry string) error {
	cc := ConnConfig(run.r.Database, "")
	_, err := run.w.AddStream(ctx, entry, 0o600, time.Now(), func(w io.Writer) error {
		return postgres.Dump(ctx, cc, postgres.DumpOptions{Schema: schema, Snapshot: run.snap.ID()}, p.Writer(w))
	})
	if err != nil {
		if schema == "" {
			return fmt.Errorf("dump database %q: %w", cc.DBName, err)
		}
		return fmt.Errorf("dump schema %q: %w", schema, err)
	}
	return nil
}

// maxNameWarnings bounds the warnings about the names of one folder a restore on
// Windows would refuse; one more line counts the rest.
const maxNameWarnings = 20

func (run *backupRun) tree(ctx context.Context, p *dag.Progress, prefix, dir string) (*archive.TreeInfo, error) {
	stats, err := run.w.AddTree(ctx, prefix, dir, archive.TreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	p.Add(stats.Bytes)
	// What an archive cannot hold faithfully is left out, and the backup goes on: it is
	// named here and listed in the manifest.
	for _, s := range stats.Skipped {
		p.Logger().Warn("left out of the archive: it cannot be stored faithfully",
			"folder", dir, "path", s.Path, "reason", s.Reason)
	}
	// Names Windows cannot hold are archived; a restore on Windows refuses them.
	for i, n := range stats.NotForWindows {
		if i == maxNameWarnings {
			p.Logger().Warn("more names a restore on Windows would refuse",
				"folder", dir, "count", len(stats.NotForWindows)-i)
			break
		}
		p.Logger().Warn("archived, but a restore on Windows would refuse this name",
			"folder", dir, "path", n.Name, "reason", n.Reason)
	}
	return &archive.TreeInfo{
		Source: dir, Prefix: prefix, Files: stats.Files, Dirs: stats.Dirs, Symlinks: stats.Symlinks, Bytes: stats.Bytes,
		Skipped: stats.Skipped,
	}, nil
}

func (run *backupRun) options(ctx context.Context) error {
	o := run.r.Options
	data, err := files.OptionsXML(files.Options{
		Application:       run.r.Name,
		SourcePath:        o.SourcePath,
		ExclusionPatterns: o.ExclusionPatterns,
		Objectives:        o.Objectives,
		Extra:             o.Extra,
	})
	if err != nil {
		return err
	}
	if _, err := run.w.AddBytes("options.xml", data, time.Now()); err != nil {
		return err
	}
	run.mu.Lock()
	run.manifest.Options = "options.xml"
	run.mu.Unlock()
	return nil
}

// finish writes the manifest and central directory, then the record of the
// packs the archive references (durable before the commit), verifies the
// archive and commits it: only now does it list as complete.
func (run *backupRun) finish(ctx context.Context, env *Env) error {
	run.mu.Lock()
	m := run.manifest
	run.mu.Unlock()
	if t, ok := archiveTime(run.name); ok {
		m.CreatedAt = t
	}
	m.DurationSeconds = time.Since(run.start).Seconds()
	if m.Delivery != nil {
		m.Delivery.Versions = run.versions
	}
	if err := run.w.Close(&m); err != nil {
		return fmt.Errorf("write archive %s: %w", run.name, err)
	}
	run.closed = true
	if err := run.buf.Flush(); err != nil {
		return fmt.Errorf("write archive %s: %w", run.name, err)
	}
	if err := writePacksRecord(ctx, run.st, plan.RefOf(run.r), run.name, manifestPacks(&m)); err != nil {
		return err
	}
	if err := commitChecked(ctx, run.up, run.st, plan.RefOf(run.r), run.name, run.sent); err != nil {
		return err
	}
	run.mu.Lock()
	run.up = nil
	run.mu.Unlock()
	return nil
}

// release ends the snapshot and, when the archive was not committed,
// removes the partial. It runs whatever happened before.
func (run *backupRun) release() error {
	var errs []error
	if run.snap != nil {
		if err := run.snap.Close(); err != nil {
			errs = append(errs, err)
		}
		run.snap = nil
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.up != nil {
		if run.w != nil && !run.closed {
			run.w.Abort()
		}
		if err := run.up.Abort(); err != nil {
			errs = append(errs, err)
		}
		run.up = nil
	}
	return errors.Join(errs...)
}

func archiveTime(name string) (time.Time, bool) {
	_, t, _, ok := catalog.ParseArchiveName(name)
	return t, ok
}

func runCommands(ctx context.Context, cmds []config.Command, env *Env) error {
	for _, c := range cmds {
		if err := files.RunCommand(ctx, files.Command{Argv: c.Argv, Dir: c.Dir, Timeout: c.Timeout}, env.Logger); err != nil {
			return err
		}
	}
	return nil
}
