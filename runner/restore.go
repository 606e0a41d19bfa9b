package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// restoreRun is the state the steps of one restore share: the archive,
// opened once and verified, the folders extracted beside their targets, the
// swaps to commit or roll back, and what was replaced so far.
type restoreRun struct {
	rp  *plan.RestorePlan
	r   *config.Resource
	st  store.Store
	ref store.Ref

	mu       sync.Mutex
	obj      store.Object
	rd       *archive.Reader
	staged   map[string]string // target folder → extracted tree beside it
	swaps    []swap
	replaced []string // parts replaced, for the report of a restore that did not finish
	recorded bool     // the restore record is in the store
	done     bool
	before   bool
}

type swap struct {
	dir              string
	commit, rollback func() error
}

// restoreVerifyID is the ID of the step that verifies a restore's archive;
// the safety backup waits for it.
func restoreVerifyID(p *plan.Plan) string {
	return "restore " + p.Restore.Resource + "/verify"
}

// restore builds the steps of a restore action:
//
//	lock → verify → [safety backup] → begin → schemas ─────────┐
//	         └→ extract folder … ──────────────────────────────┼→ swap folders, write options
//	                                                           └→ after_restore hooks → finish
//
// verify checks every checksum of the archive and that the folders to
// restore are safe to extract before anything is touched. begin writes the
// restore record into the store: from then on, until finish removes it, the
// next restore plan finishes this restore from the same archive. The
// schemas are replaced in one transaction; folders are extracted beside
// their targets meanwhile and swapped in only once the schemas committed.
// finish removes the old copies and the leftovers of earlier interrupted
// restores; the cleanup step puts swapped folders back when anything
// failed, and reports what was replaced.
func (b *builder) restore(a *plan.Action, r *config.Resource, st store.Store) error {
	rp := b.p.Restore
	if rp == nil {
		return fmt.Errorf("action %s: the plan has no restore section", a.ID)
	}
	run := &restoreRun{rp: rp, r: r, st: st, ref: plan.RefOf(r), staged: map[string]string{}}
	env := b.env
	id := func(name string) string { return a.ID + "/" + name }
	lockID := b.lockFor(r, st, id("cleanup"), restoreVerifyID(b.p))

	verify := dag.Step{
		ID:    restoreVerifyID(b.p),
		Label: fmt.Sprintf("verify %s", rp.Archive),
		Deps:  []string{lockID},
		Run:   run.verify,
	}
	begin := dag.Step{
		ID:    id("begin"),
		Label: fmt.Sprintf("record the restore of %s in store.%s", r.Address, st.Name()),
		Deps:  b.after(a, verify.ID),
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return run.begin(ctx, b.p.Now)
		},
	}
	parts := run.partSteps(id, begin.ID, verify.ID, env)
	swap := dag.Step{
		ID:    id("swap"),
		Label: fmt.Sprintf("swap in the folders and options of %s", r.Address),
		Deps:  append([]string{begin.ID}, stepIDs(parts)...),
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return run.swapIn(ctx, env)
		},
	}
	hooks := dag.Step{
		ID:    id("after_restore"),
		Label: fmt.Sprintf("run after_restore hooks of %s", r.Address),
		Deps:  []string{swap.ID},
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return run.afterRestore(ctx, env)
		},
	}
	finish := dag.Step{
		ID:    finalStep(a),
		Label: fmt.Sprintf("finish restore of %s", r.Address),
		Deps:  []string{hooks.ID},
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return run.finish(ctx)
		},
	}
	cleanup := dag.Step{
		ID:     id("cleanup"),
		Label:  fmt.Sprintf("clean up restore of %s", r.Address),
		Deps:   []string{finish.ID},
		Always: true,
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return run.cleanup(context.WithoutCancel(ctx), env)
		},
	}
	b.addAll(Target{r.Address, st.Name()}, slices.Concat([]dag.Step{verify, begin}, parts, []dag.Step{swap, hooks, finish, cleanup}))
	return nil
}

// partSteps returns the steps that restore the parts of the archive (id
// names them): the database of a persistence resource and the schemas,
// after begin, in one transaction each; the delivery folder and the files,
// extracted beside their targets once the archive is verified.
func (run *restoreRun) partSteps(id func(string) string, beginID, verifyID string, env *Env) []dag.Step {
	rp, db := run.rp, run.r.Database
	var steps []dag.Step
	var set []plan.SchemaRestore
	for _, s := range rp.Schemas {
		if s.Role != "database" {
			set = append(set, s)
			continue
		}
		steps = append(steps, dag.Step{
			ID:    id("database/" + rp.Database),
			Label: fmt.Sprintf("restore database %s", rp.Database),
			Deps:  []string{beginID},
			Run: func(ctx context.Context, p *dag.Progress) error {
				return run.database(ctx, p, ConnConfig(db, rp.Database), s)
			},
		})
	}
	if len(set) > 0 {
		names := make([]string, len(set))
		for i, s := range set {
			names[i] = s.Target
		}
		steps = append(steps, dag.Step{
			ID:    id("schemas"),
			Label: fmt.Sprintf("restore schema %s", strings.Join(names, ", ")),
			Deps:  []string{beginID},
			Run: func(ctx context.Context, p *dag.Progress) error {
				return run.schemas(ctx, p, ConnConfig(db, rp.Database), set, env.DBLockTimeout)
			},
		})
	}
	for _, t := range []*plan.TreeRestore{rp.Delivery, rp.Files} {
		if t == nil {
			continue
		}
		steps = append(steps, dag.Step{
			ID:    id("extract/" + t.Target),
			Label: fmt.Sprintf("extract %s beside %s", t.Prefix, t.Target),
			Deps:  []string{verifyID},
			Run: func(ctx context.Context, p *dag.Progress) error {
				return run.extract(ctx, p, t)
			},
		})
	}
	return steps
}

// afterRestore runs the resource's after_restore hooks, unless the restore
// goes to another database, and counts them among what was replaced.
func (run *restoreRun) afterRestore(ctx context.Context, env *Env) error {
	if run.rp.ToDatabase != "" || len(run.r.AfterRestore) == 0 {
		return nil
	}
	if err := runHooks(ctx, run.r.AfterRestore, env); err != nil {
		return err
	}
	run.mu.Lock()
	run.replaced = append(run.replaced, "after_restore hooks")
	run.mu.Unlock()
	return nil
}

// begin writes the restore record into the store, before anything is
// changed. A restore that finishes an interrupted one keeps the name of the
// safety backup taken before the first.
func (run *restoreRun) begin(ctx context.Context, now time.Time) error {
	rp := run.rp
	if rp.ToDatabase != "" || renamedOnly(rp) {
		return nil // a copy: nothing of the original is half replaced if it stops
	}
	rec := plan.RestoreRecord{
		Resource: rp.Resource, Store: rp.Store, Archive: rp.Archive,
		Started: time.Now().UTC().Truncate(time.Second), PID: os.Getpid(),
	}
	rec.Host, _ = os.Hostname()
	switch {
	case rp.SafetyBackup != "":
		rec.SafetyBackup, rec.SafetyStore = rp.SafetyBackup, safetyStore(run.r)
	case rp.Interrupted != nil:
		rec.SafetyBackup, rec.SafetyStore = rp.Interrupted.SafetyBackup, rp.Interrupted.SafetyStore
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := run.st.WriteRecord(ctx, run.ref, store.RestoreRecord, data); err != nil {
		return err
	}
	run.mu.Lock()
	run.recorded = true
	run.mu.Unlock()
	return nil
}

func safetyStore(r *config.Resource) string {
	if len(r.Stores) == 0 {
		return ""
	}
	return r.Stores[0].Name
}

// renamedOnly reports whether a restore writes only copies of schemas under
// other names.
func renamedOnly(rp *plan.RestorePlan) bool {
	if rp.Delivery != nil || rp.Files != nil || rp.Options != nil {
		return false
	}
	for _, s := range rp.Schemas {
		if s.Role == "database" || s.Target == s.Source {
			return false
		}
	}
	return true
}

func (run *restoreRun) verify(ctx context.Context, p *dag.Progress) error {
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
	digest, err := ArchiveDigest(rd)
	if err != nil {
		return err
	}
	if digest != run.rp.ArchiveDigest {
		return fmt.Errorf("%w: archive %s changed since the plan was made", plan.ErrStale, run.rp.Archive)
	}
	// Only the folders this restore extracts are checked for safety: a
	// restore of schemas alone does not depend on the archive's folder
	// entries. Every checksum is verified all the same. On Windows, names
	// Windows cannot hold are refused here, before anything changes.
	var prefixes []string
	for _, t := range []*plan.TreeRestore{run.rp.Delivery, run.rp.Files} {
		if t != nil {
			prefixes = append(prefixes, strings.Trim(t.Prefix, "/")+"/")
		}
	}
	if len(prefixes) > 0 {
		if err := rd.CheckSafe(archive.SafetyOptions{Prefixes: prefixes}.ForThisSystem()); err != nil {
			return fmt.Errorf("%s: %w", run.rp.Archive, err)
		}
	}
	if err := rd.Verify(ctx); err != nil {
		return fmt.Errorf("%s: %w", run.rp.Archive, err)
	}
	if err := checkPacked(ctx, run.st, run.ref, run.rp.Archive, rd); err != nil {
		return err
	}
	p.Add(obj.Size())
	run.mu.Lock()
	run.rd = rd
	run.mu.Unlock()
	return nil
}

// finish removes the old copies of swapped folders and the leftovers of
// earlier interrupted restores of what this one replaced, then the restore
// record: the restore succeeded.
func (run *restoreRun) finish(ctx context.Context) error {
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
	for _, l := range run.rp.Leftovers {
		if l.Kind == "folder" && l.Remove {
			if err := os.RemoveAll(l.Name); err != nil {
				errs = append(errs, fmt.Errorf("remove leftover %s: %w", l.Name, err))
			}
		}
	}
	if run.recorded {
		if err := run.st.DeleteRecord(ctx, run.ref, store.RestoreRecord); err != nil {
			errs = append(errs, err)
		} else {
			run.recorded = false
		}
	}
	return errors.Join(errs...)
}

// cleanup puts swapped folders back when the restore did not finish,
// removes extracted trees that were not swapped in, runs the after hooks of
// file-based persistence, and closes the archive. A restore that did not
// finish but replaced something reports what it replaced and what not; its
// record stays in the store, so that the next restore plan finishes it.
// One that replaced nothing removes its record.
func (run *restoreRun) cleanup(ctx context.Context, env *Env) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	var errs []error
	if !run.done {
		for i := len(run.swaps) - 1; i >= 0; i-- {
			if err := run.swaps[i].rollback(); err != nil {
				errs = append(errs, fmt.Errorf("put back %s: %w", run.swaps[i].dir, err))
				continue
			}
			run.replaced = slices.DeleteFunc(run.replaced, func(p string) bool { return p == "folder "+run.swaps[i].dir })
		}
		run.swaps = nil
	}
	for _, staging := range run.staged {
		if err := os.RemoveAll(staging); err != nil {
			errs = append(errs, err)
		}
	}
	run.staged = map[string]string{}
	if run.before {
		if err := runCommands(ctx, run.r.After, env); err != nil {
			errs = append(errs, err)
		}
	}
	if run.obj != nil {
		run.obj.Close()
		run.obj = nil
	}
	if !run.done && run.recorded {
		if len(run.replaced) == 0 {
			if err := run.st.DeleteRecord(ctx, run.ref, store.RestoreRecord); err != nil {
				errs = append(errs, err)
			}
		} else {
			errs = append(errs, fmt.Errorf("the restore of %s from %s did not finish: replaced %s; not replaced: %s. "+
				"planb plan --restore %s finishes it from the same archive",
				run.rp.Resource, run.rp.Archive, strings.Join(run.replaced, ", "), run.notReplaced(), run.rp.Resource))
		}
	}
	return errors.Join(errs...)
}

// notReplaced lists the parts of the restore not in run.replaced.
func (run *restoreRun) notReplaced() string {
	var all []string
	if slices.ContainsFunc(run.rp.Schemas, func(s plan.SchemaRestore) bool { return s.Role != "database" }) {
		all = append(all, "schemas")
	}
	for _, t := range []*plan.TreeRestore{run.rp.Delivery, run.rp.Files} {
		if t != nil {
			all = append(all, "folder "+t.Target)
		}
	}
	if run.rp.Options != nil {
		all = append(all, "options "+run.rp.Options.Target)
	}
	if len(run.r.AfterRestore) > 0 && run.rp.ToDatabase == "" {
		all = append(all, "after_restore hooks")
	}
	var out []string
	for _, p := range all {
		if !slices.ContainsFunc(run.replaced, func(r string) bool { return strings.HasPrefix(r, p) }) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
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
