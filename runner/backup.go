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
	pre := a.ID + "/"
	prepareID := pre + "prepare"
	archiveID := finalStep(a)
	releaseID := pre + "release"
	lockID := b.lockFor(r, st, releaseID)
	run := &backupRun{r: r, st: st, name: a.Archive}
	env := b.env

	var contentIDs []string
	add := func(s Step) error {
		s.Resource, s.Store = r.Address, st.Name()
		return b.g.Add(s)
	}
	prepareDeps := b.after(a, lockID)
	if b.p.Restore != nil {
		// A safety backup starts once the archive to restore is verified.
		prepareDeps = append(prepareDeps, restoreVerifyID(b.p))
	}
	schemas := r.Schemas
	if a.Schemas != nil {
		schemas = nil
		for _, s := range r.Schemas {
			if slices.Contains(a.Schemas, s.Name) {
				schemas = append(schemas, s)
			}
		}
	}
	run.schemas = schemas
	if err := add(Step{
		ID:    prepareID,
		Label: fmt.Sprintf("prepare backup of %s", r.Address),
		Deps:  prepareDeps,
		Run: func(ctx context.Context, _ *Progress) error {
			return run.prepare(ctx, env)
		},
	}); err != nil {
		return err
	}

	if r.Database != nil {
		for _, s := range schemas {
			id := pre + "dump/" + s.Name
			contentIDs = append(contentIDs, id)
			if err := add(Step{
				ID:    id,
				Label: fmt.Sprintf("dump schema %s", s.Name),
				Deps:  []string{prepareID},
				Run: func(ctx context.Context, p *Progress) error {
					return run.dump(ctx, p, s.Name, "schemas/"+s.Name+".cssbackup")
				},
			}); err != nil {
				return err
			}
		}
	}
	if r.Kind == config.Persistence && r.Database != nil {
		id := pre + "dump/" + r.Database.DBName
		contentIDs = append(contentIDs, id)
		if err := add(Step{
			ID:    id,
			Label: fmt.Sprintf("dump database %s", r.Database.DBName),
			Deps:  []string{prepareID},
			Run: func(ctx context.Context, p *Progress) error {
				return run.dump(ctx, p, "", "databases/"+r.Database.DBName+".cssbackup")
			},
		}); err != nil {
			return err
		}
	}
	if r.DeliveryFolder != "" {
		id := pre + "delivery"
		contentIDs = append(contentIDs, id)
		if err := add(Step{
			ID:    id,
			Label: fmt.Sprintf("archive delivery folder %s", r.DeliveryFolder),
			Deps:  []string{prepareID},
			Run: func(ctx context.Context, p *Progress) error {
				info, err := run.delivery(ctx, p, env, r.DeliveryFolder)
				run.mu.Lock()
				run.manifest.Delivery = info
				run.mu.Unlock()
				return err
			},
		}); err != nil {
			return err
		}
	}
	if r.Options != nil {
		id := pre + "options"
		contentIDs = append(contentIDs, id)
		if err := add(Step{
			ID:    id,
			Label: "write options.xml",
			Deps:  []string{prepareID},
			Run: func(ctx context.Context, _ *Progress) error {
				return run.options(ctx)
			},
		}); err != nil {
			return err
		}
	}
	if r.Path != "" {
		copyID := pre + "files"
		afterID := pre + "after"
		if err := add(Step{
			ID:    copyID,
			Label: fmt.Sprintf("copy files of %s", r.Path),
			Deps:  []string{prepareID},
			Run: func(ctx context.Context, p *Progress) error {
				info, err := run.tree(ctx, p, "files/", r.Path)
				run.mu.Lock()
				run.manifest.Files = info
				run.mu.Unlock()
				return err
			},
		}); err != nil {
			return err
		}
		contentIDs = append(contentIDs, copyID)
		// after runs even when the copy failed, but only when before ran:
		// prepare runs the before hooks and is its dependency.
		if len(r.Before) > 0 || len(r.After) > 0 {
			if err := add(Step{
				ID:     afterID,
				Label:  fmt.Sprintf("run after hooks of %s", r.Address),
				Deps:   []string{copyID},
				Always: true,
				Run: func(ctx context.Context, _ *Progress) error {
					if !run.beforeRan() {
						return nil
					}
					return runCommands(context.WithoutCancel(ctx), r.After, env)
				},
			}); err != nil {
				return err
			}
			contentIDs = append(contentIDs, afterID)
		}
	}
	if err := add(Step{
		ID:    archiveID,
		Label: fmt.Sprintf("finish archive %s", a.Archive),
		Deps:  append([]string{prepareID}, contentIDs...),
		Run: func(ctx context.Context, _ *Progress) error {
			if err := run.finish(ctx, env); err != nil {
				return err
			}
			b.verified.add(st.Name(), plan.RefOf(r), a.Archive)
			return nil
		},
	}); err != nil {
		return err
	}
	return add(Step{
		ID:     releaseID,
		Label:  fmt.Sprintf("release %s", a.Archive),
		Deps:   []string{archiveID},
		Always: true,
		Run: func(ctx context.Context, _ *Progress) error {
			return run.release()
		},
	})
}

func (run *backupRun) beforeRan() bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.beforeStarted
}

func (run *backupRun) prepare(ctx context.Context, env *Env) error {
	r := run.r
	run.start = time.Now()
	run.manifest = archive.Manifest{
		FormatVersion: archive.FormatVersion,
		Resource:      r.Address,
		Kind:          string(r.Kind),
		Name:          r.Name,
		PlanbVersion:  env.PlanbVersion,
		Node:          env.Config.Node,
		Safety:        catalog.IsSafety(run.name),
	}
	if r.Database != nil {
		cc := ConnConfig(r.Database, "")
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
		if r.Kind == config.Persistence {
			stats, err := snap.DatabaseStats(ctx)
			if err != nil {
				return err
			}
			run.manifest.Schemas = append(run.manifest.Schemas, archive.SchemaInfo{
				Role: "database", Name: cc.DBName, Entry: "databases/" + cc.DBName + ".cssbackup",
				Tables: stats.Tables, RowEstimate: stats.RowEstimate, Bytes: stats.Bytes,
			})
		}
		names := make([]string, len(run.schemas))
		for i, s := range run.schemas {
			names[i] = s.Name
		}
		dependents, references, err := snap.SchemaDependencies(ctx, names)
		if err != nil {
			return err
		}
		for _, s := range run.schemas {
			stats, err := snap.SchemaStats(ctx, s.Name)
			if err != nil {
				return err
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
			run.manifest.Schemas = append(run.manifest.Schemas, info)
		}
	}
	if len(r.Before) > 0 || len(r.After) > 0 {
		run.mu.Lock()
		run.beforeStarted = true
		run.mu.Unlock()
		if err := runCommands(ctx, r.Before, env); err != nil {
			return err
		}
	}
	// The store records which node writes the archive before its upload
	// begins, so that plans of other nodes leave it, and its partial,
	// alone. An archive that is never committed leaves a line naming
	// nothing the store holds, which the next backup drops.
	if _, err := noteNode(ctx, run.st, plan.RefOf(r), run.name, env.Config.Node); err != nil {
		return err
	}
	if err := run.noteVersions(ctx); err != nil {
		return err
	}
	up, err := run.st.Create(ctx, plan.RefOf(r), run.name)
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

func (run *backupRun) dump(ctx context.Context, p *Progress, schema, entry string) error {
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

func (run *backupRun) tree(ctx context.Context, p *Progress, prefix, dir string) (*archive.TreeInfo, error) {
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

// finish writes the manifest and central directory, verifies the archive
// and commits it: only now does it list as complete.
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
