package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/store"
)

// restoreRun is the state the steps of one restore share: the archive,
// opened once and verified, and the folder swaps to commit or roll back.
type restoreRun struct {
	rp  *plan.RestorePlan
	r   *config.Resource
	st  store.Store
	ref store.Ref

	mu     sync.Mutex
	obj    store.Object
	rd     *archive.Reader
	swaps  []swap
	done   bool
	before bool
}

type swap struct {
	dir              string
	commit, rollback func() error
}

// ArchiveDigest identifies an archive's contents for restore plans: the
// SHA-256 of its manifest, or of its entry list when it has none.
func ArchiveDigest(rd *archive.Reader) (string, error) {
	return archiveDigest(rd)
}

// restoreVerifyID is the ID of the step that verifies a restore's archive;
// the safety backup waits for it.
func restoreVerifyID(p *plan.Plan) string {
	return "restore " + p.Restore.Resource + "/verify"
}

// restore builds the steps of a restore action:
//
//	lock → verify → [safety backup] → restore schema … ─┐
//	                                 → delivery folder ──┼→ after_restore hooks → finish
//	                                 → options ──────────┘
//
// verify checks every checksum of the archive and that it is safe to
// extract before anything is touched. Folders are extracted beside their
// target and swapped in; the old copies are removed by finish, and put back
// by the cleanup step when anything failed.
func (b *builder) restore(a *plan.Action, r *config.Resource, st store.Store) error {
	rp := b.p.Restore
	if rp == nil {
		return fmt.Errorf("action %s: the plan has no restore section", a.ID)
	}
	run := &restoreRun{rp: rp, r: r, st: st, ref: plan.RefOf(r)}
	env := b.env
	pre := a.ID + "/"
	verifyID := restoreVerifyID(b.p)
	finishID := finalStep(a)
	cleanupID := pre + "cleanup"
	lockID := b.lockFor(r, st, cleanupID, verifyID)
	add := func(s Step) error {
		s.Resource, s.Store = r.Address, st.Name()
		return b.g.Add(s)
	}
	if err := add(Step{
		ID:    verifyID,
		Label: fmt.Sprintf("verify %s", rp.Archive),
		Deps:  []string{lockID},
		Run: func(ctx context.Context, p *Progress) error {
			return run.verify(ctx, p)
		},
	}); err != nil {
		return err
	}
	start := b.after(a, verifyID)
	var contentIDs []string
	db := r.Database
	var set []plan.SchemaRestore
	for _, s := range rp.Schemas {
		if s.Role != "database" {
			set = append(set, s)
			continue
		}
		id := pre + "database/" + rp.Database
		contentIDs = append(contentIDs, id)
		if err := add(Step{
			ID:    id,
			Label: fmt.Sprintf("restore database %s", rp.Database),
			Deps:  start,
			Run: func(ctx context.Context, p *Progress) error {
				return run.database(ctx, p, ConnConfig(db, rp.Database), s)
			},
		}); err != nil {
			return err
		}
	}
	if len(set) > 0 {
		// The schemas of one restore are replaced together, in one
		// transaction: they may reference each other.
		id := pre + "schemas"
		contentIDs = append(contentIDs, id)
		names := make([]string, len(set))
		for i, s := range set {
			names[i] = s.Target
		}
		if err := add(Step{
			ID:    id,
			Label: fmt.Sprintf("restore schema %s", strings.Join(names, ", ")),
			Deps:  start,
			Run: func(ctx context.Context, p *Progress) error {
				return run.schemas(ctx, p, ConnConfig(db, rp.Database), set, env.DBLockTimeout)
			},
		}); err != nil {
			return err
		}
	}
	for _, t := range []*plan.TreeRestore{rp.Delivery, rp.Files} {
		if t == nil {
			continue
		}
		id := pre + "folder/" + t.Target
		contentIDs = append(contentIDs, id)
		if err := add(Step{
			ID:    id,
			Label: fmt.Sprintf("replace %s", t.Target),
			Deps:  start,
			Run: func(ctx context.Context, p *Progress) error {
				return run.folder(ctx, p, t, env)
			},
		}); err != nil {
			return err
		}
	}
	if rp.Options != nil {
		id := pre + "options"
		contentIDs = append(contentIDs, id)
		if err := add(Step{
			ID:    id,
			Label: fmt.Sprintf("write %s", rp.Options.Target),
			Deps:  start,
			Run: func(ctx context.Context, _ *Progress) error {
				return run.options(rp.Options)
			},
		}); err != nil {
			return err
		}
	}
	hooksID := pre + "after_restore"
	if err := add(Step{
		ID:    hooksID,
		Label: fmt.Sprintf("run after_restore hooks of %s", r.Address),
		Deps:  append(append([]string{}, start...), contentIDs...),
		Run: func(ctx context.Context, _ *Progress) error {
			if rp.ToDatabase != "" {
				return nil
			}
			return runHooks(ctx, r.AfterRestore, env)
		},
	}); err != nil {
		return err
	}
	if err := add(Step{
		ID:    finishID,
		Label: fmt.Sprintf("finish restore of %s", r.Address),
		Deps:  []string{hooksID},
		Run: func(ctx context.Context, _ *Progress) error {
			return run.finish()
		},
	}); err != nil {
		return err
	}
	return add(Step{
		ID:     cleanupID,
		Label:  fmt.Sprintf("clean up restore of %s", r.Address),
		Deps:   []string{finishID},
		Always: true,
		Run: func(ctx context.Context, _ *Progress) error {
			return run.cleanup(context.WithoutCancel(ctx), env)
		},
	})
}

func (run *restoreRun) verify(ctx context.Context, p *Progress) error {
	obj, err := run.st.Open(ctx, run.ref, run.rp.Archive)
	if err != nil {
		return err
	}
	run.mu.Lock()
	run.obj = obj
	run.mu.Unlock()
	p.SetTotal(obj.Size())
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return fmt.Errorf("open %s: %w", run.rp.Archive, err)
	}
	digest, err := archiveDigest(rd)
	if err != nil {
		return err
	}
	if digest != run.rp.ArchiveDigest {
		return fmt.Errorf("%w: archive %s changed since the plan was made", plan.ErrStale, run.rp.Archive)
	}
	if err := rd.CheckSafe(archive.SafetyOptions{}); err != nil {
		return fmt.Errorf("%s: %w", run.rp.Archive, err)
	}
	if err := rd.Verify(ctx); err != nil {
		return fmt.Errorf("%s: %w", run.rp.Archive, err)
	}
	p.Add(obj.Size())
	run.mu.Lock()
	run.rd = rd
	run.mu.Unlock()
	return nil
}

// database restores a whole-database dump.
func (run *restoreRun) database(ctx context.Context, p *Progress, cc postgres.ConnConfig, s plan.SchemaRestore) error {
	rc, err := run.rd.OpenEntry(s.Entry)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Entry, err)
	}
	defer rc.Close()
	return postgres.Restore(ctx, cc, postgres.RestoreOptions{Clean: true}, p.Reader(rc))
}

// schemas replaces the restored schemas together, in one transaction. The
// archive's other schemas come along as context when a schema is restored
// under another name: they are restored beside it in the scratch database,
// so that its references to them resolve.
func (run *restoreRun) schemas(ctx context.Context, p *Progress, cc postgres.ConnConfig, set []plan.SchemaRestore, lockTimeout time.Duration) error {
	var dumps []postgres.SchemaDump
	opts := postgres.SetOptions{Replace: true, LockTimeout: lockTimeout}
	for _, s := range set {
		dumps = append(dumps, run.dump(s.Source, s.Entry, p))
		if s.Target != s.Source {
			if opts.Rename == nil {
				opts.Rename = map[string]string{}
			}
			opts.Rename[s.Source] = s.Target
		}
	}
	if opts.Rename != nil {
		for _, e := range run.rp.Context {
			if !slices.ContainsFunc(dumps, func(d postgres.SchemaDump) bool { return d.Schema == e.Source }) {
				opts.Context = append(opts.Context, run.dump(e.Source, e.Entry, nil))
			}
		}
	}
	if run.rp.Cascade {
		for _, d := range run.rp.Dependents {
			opts.Cascade = append(opts.Cascade, postgres.Dependent{Schema: d.Schema, Object: d.Object})
		}
	}
	return postgres.RestoreSet(ctx, cc, dumps, opts)
}

// dump opens an archive entry as a schema dump; p, when set, counts what is
// read.
func (run *restoreRun) dump(schema, entry string, p *Progress) postgres.SchemaDump {
	return postgres.SchemaDump{Schema: schema, Open: func() (io.ReadCloser, error) {
		rc, err := run.rd.OpenEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", entry, err)
		}
		if p == nil {
			return rc, nil
		}
		return readCloser{p.Reader(rc), rc}, nil
	}}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// folder extracts a tree beside its target and swaps it in. File-based
// persistence runs its before hooks first; the after hooks run in cleanup.
func (run *restoreRun) folder(ctx context.Context, p *Progress, t *plan.TreeRestore, env *Env) error {
	if t.Prefix == "files/" && (len(run.r.Before) > 0 || len(run.r.After) > 0) {
		run.mu.Lock()
		run.before = true
		run.mu.Unlock()
		if err := runCommands(ctx, run.r.Before, env); err != nil {
			return err
		}
	}
	parent := filepath.Dir(filepath.Clean(t.Target))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	staging := fmt.Sprintf("%s.planb-restore-%d", filepath.Clean(t.Target), time.Now().UnixNano())
	stats, err := run.rd.Extract(ctx, t.Prefix, staging, archive.SafetyOptions{})
	if err != nil {
		os.RemoveAll(staging)
		return err
	}
	p.Add(stats.Bytes)
	commit, rollback, err := files.SwapDir(t.Target, staging)
	if err != nil {
		os.RemoveAll(staging)
		return err
	}
	run.mu.Lock()
	run.swaps = append(run.swaps, swap{dir: t.Target, commit: commit, rollback: rollback})
	run.mu.Unlock()
	return nil
}

func (run *restoreRun) options(o *plan.OptionsRestore) error {
	rc, err := run.rd.OpenEntry(o.Entry)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return err
	}
	return files.WriteFileAtomic(o.Target, data, 0o644)
}

// finish removes the old copies of swapped folders: the restore succeeded.
func (run *restoreRun) finish() error {
	run.mu.Lock()
	defer run.mu.Unlock()
	var errs []error
	for _, s := range run.swaps {
		if err := s.commit(); err != nil {
			errs = append(errs, fmt.Errorf("remove old copy of %s: %w", s.dir, err))
		}
	}
	run.swaps = nil
	run.done = true
	return errors.Join(errs...)
}

// cleanup puts swapped folders back when the restore did not finish, runs
// the after hooks of file-based persistence, and closes the archive.
func (run *restoreRun) cleanup(ctx context.Context, env *Env) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	var errs []error
	if !run.done {
		for i := len(run.swaps) - 1; i >= 0; i-- {
			if err := run.swaps[i].rollback(); err != nil {
				errs = append(errs, fmt.Errorf("put back %s: %w", run.swaps[i].dir, err))
			}
		}
		run.swaps = nil
	}
	if run.before {
		if err := runCommands(ctx, run.r.After, env); err != nil {
			errs = append(errs, err)
		}
	}
	if run.obj != nil {
		run.obj.Close()
		run.obj = nil
	}
	return errors.Join(errs...)
}

// runHooks runs after_restore hooks in order: SQL through pgx, commands
// without a shell.
func runHooks(ctx context.Context, hooks []config.Hook, env *Env) error {
	for _, h := range hooks {
		var err error
		switch {
		case h.Command != nil:
			err = runCommands(ctx, []config.Command{*h.Command}, env)
		case h.Database != nil:
			err = postgres.ExecSQL(ctx, ConnConfig(h.Database, ""), h.SQL)
		}
		if err != nil {
			return fmt.Errorf("after_restore %s: %w", plan.HookText(h), err)
		}
	}
	return nil
}
