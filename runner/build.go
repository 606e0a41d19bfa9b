package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
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
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner/dag"
)

// Env is what executing a plan needs besides the plan: the configuration
// (with its secrets, resolved again at apply time), the opened stores and
// where to log.
type Env struct {
	Config       *config.Config
	Stores       map[string]store.Store
	Logger       *slog.Logger
	PlanbVersion string
	// TempDir holds spool files of archives being written ("" = os.TempDir).
	TempDir string
	// LockWait is how long to wait for a lock another process holds.
	LockWait time.Duration
	// Workers is the number of parallel compressors per archive.
	Workers int
	// DBLockTimeout bounds each wait of a restore for a table lock
	// (0 = postgres.DefaultLockTimeout).
	DBLockTimeout time.Duration
}

// Build turns a plan into the graph of steps that executes it. Every action
// on a resource in a store runs under that pair's lock, taken once by a lock
// step and released by an unlock step that runs whatever happened.
//
// When the lock is lost while held (it could not be renewed in time, or
// another process took it over), the steps under it stop: those running
// see their context cancelled (uploads are aborted, nothing more is
// written) and fail with the lock's *store.LostError, "lost the lock of …
// in store …: …", as do those that have not started; steps that clean up
// (Always) still run.
func Build(p *plan.Plan, env *Env) (*dag.Graph, error) {
	if err := checkKeys(p, env.Stores); err != nil {
		return nil, err
	}
	if err := checkDependsOn(p); err != nil {
		return nil, err
	}
	b := &builder{p: p, env: env, pairs: map[Target]*pair{}, verified: &verifiedSet{}}
	for _, a := range p.Actions {
		if err := b.action(a); err != nil {
			return nil, err
		}
	}
	b.addUnlocks()
	return b.graph()
}

// checkDependsOn refuses a plan whose actions depend on actions it does not
// contain.
func checkDependsOn(p *plan.Plan) error {
	for _, a := range p.Actions {
		for _, d := range a.DependsOn {
			if p.Action(d) == nil {
				return fmt.Errorf("action %s depends on %s, which the plan does not contain", a.ID, d)
			}
		}
	}
	return nil
}

// addUnlocks adds, for every pair, the step that releases its lock once the
// steps under it have finished, whatever happened to them.
func (b *builder) addUnlocks() {
	for _, t := range b.order {
		pr := b.pairs[t]
		b.add(dag.Step{
			ID:     pr.unlockID,
			Label:  fmt.Sprintf("unlock %s in store.%s", t.Resource, t.Store),
			Group:  t,
			Deps:   append([]string{pr.lockID}, pr.users...),
			Always: true,
			Run: func(ctx context.Context, _ *dag.Progress) error {
				return pr.unlock()
			},
		})
	}
}

// graph adds the steps built to a graph, each step that runs under a
// pair's lock guarded by it (see pair.guard), and validates it.
func (b *builder) graph() (*dag.Graph, error) {
	g := dag.NewGraph()
	for _, s := range b.steps {
		if pr, ok := b.pairs[TargetOf(s)]; ok && !s.Always && s.ID != pr.lockID {
			s.Run = pr.guard(s.Run)
		}
		if err := g.Add(s); err != nil {
			return nil, err
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// pair is what the steps of one resource in one store share during an
// apply: the IDs of its lock and unlock steps, the steps that run under the
// lock, and the lock once taken, with a context that ends when it is lost.
type pair struct {
	lockID, unlockID string
	users            []string // steps that run under the lock

	mu   sync.Mutex
	lock store.Lock
	// held is cancelled, with the lock's *store.LostError as its cause,
	// when the lock is lost, and with errReleased when it is released.
	held   context.Context
	cancel context.CancelCauseFunc
}

// errReleased is the cause of a pair's context once its lock is released.
var errReleased = errors.New("lock released")

// took records the lock the lock step took and watches it.
func (pr *pair) took(l store.Lock) {
	held, cancel := context.WithCancelCause(context.Background())
	pr.mu.Lock()
	pr.lock, pr.held, pr.cancel = l, held, cancel
	pr.mu.Unlock()
	go func() {
		select {
		case <-l.Lost():
			cancel(l.Err())
		case <-held.Done():
		}
	}()
}

// lost returns why the pair's lock was lost, or nil.
func (pr *pair) lost() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.held == nil {
		return nil
	}
	if cause := context.Cause(pr.held); errors.Is(cause, store.ErrLockLost) {
		return cause
	}
	return nil
}

// guard makes run stop when the pair's lock is lost: it does not start
// then, and its context is cancelled when it happens while it runs. The
// context stays cancellable after run returns, until the lock is released,
// since what a step starts (an upload) may outlive it.
func (pr *pair) guard(run func(ctx context.Context, p *dag.Progress) error) func(ctx context.Context, p *dag.Progress) error {
	return func(ctx context.Context, p *dag.Progress) error {
		pr.mu.Lock()
		held := pr.held
		pr.mu.Unlock()
		if held == nil {
			return run(ctx, p)
		}
		if err := pr.lost(); err != nil {
			return err
		}
		stepCtx, cancel := context.WithCancelCause(ctx)
		context.AfterFunc(held, func() { cancel(context.Cause(held)) })
		err := run(stepCtx, p)
		if lost := pr.lost(); err != nil && lost != nil && ctx.Err() == nil {
			return lost
		}
		return err
	}
}

func (pr *pair) unlock() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.lock == nil {
		return nil
	}
	err := pr.lock.Unlock()
	pr.lock = nil
	pr.cancel(errReleased)
	return err
}

// builder turns the actions of a plan into steps; Build adds them to the
// graph once all are built.
type builder struct {
	p   *plan.Plan
	env *Env
	// steps are the steps built so far, in the order they were built.
	steps []dag.Step
	// pairs holds the lock of each resource in a store, in order.
	pairs map[Target]*pair
	order []Target
	// verified holds the archives this apply wrote or copied and checked.
	verified *verifiedSet
}

// add adds a step to the graph being built.
func (b *builder) add(s dag.Step) {
	b.steps = append(b.steps, s)
}

// addAll adds the steps of one action, in order, all working on t.
func (b *builder) addAll(t Target, steps []dag.Step) {
	for _, s := range steps {
		s.Group = t
		b.add(s)
	}
}

// stepIDs returns the IDs of steps, in order.
func stepIDs(steps []dag.Step) []string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return ids
}

func (b *builder) resource(addr string) (*config.Resource, error) {
	r := b.env.Config.Resource(addr)
	if r == nil {
		return nil, fmt.Errorf("the plan names %s, which the configuration does not declare", addr)
	}
	return r, nil
}

func (b *builder) store(name string) (store.Store, error) {
	s, ok := b.env.Stores[name]
	if !ok {
		return nil, fmt.Errorf("the plan names store.%s, which the configuration does not declare", name)
	}
	return s, nil
}

// lockFor returns the lock step of a resource in a store, adding it on first
// use, and registers user as a step that runs under it.
func (b *builder) lockFor(r *config.Resource, st store.Store, user ...string) string {
	k := Target{r.Address, st.Name()}
	pr, ok := b.pairs[k]
	if !ok {
		pr = &pair{
			lockID:   fmt.Sprintf("%s/store.%s/lock", r.Address, st.Name()),
			unlockID: fmt.Sprintf("%s/store.%s/unlock", r.Address, st.Name()),
		}
		b.pairs[k] = pr
		b.order = append(b.order, k)
		ref := plan.RefOf(r)
		wait := b.env.LockWait
		b.add(dag.Step{
			ID:    pr.lockID,
			Label: fmt.Sprintf("lock %s in store.%s", r.Address, st.Name()),
			Group: Target{r.Address, st.Name()},
			Run: func(ctx context.Context, _ *dag.Progress) error {
				l, err := st.Lock(ctx, ref, wait)
				if err != nil {
					return err
				}
				pr.took(l)
				// The plan was made before the lock was taken: make sure no
				// other apply changed the folder in between.
				archives, err := st.ListResource(ctx, ref)
				if err != nil {
					return err
				}
				return b.p.CheckFolder(st.Name(), ref, archives)
			},
		})

	}
	pr.users = append(pr.users, user...)
	return pr.lockID
}

// after returns the steps an action's first steps wait for: its lock and
// the final steps of the actions it depends on, whichever order the plan
// lists them in.
func (b *builder) after(a *plan.Action, lockID string) []string {
	deps := []string{lockID}
	for _, d := range a.DependsOn {
		deps = append(deps, finalStep(b.p.Action(d))) // Build checked that d exists
	}
	return deps
}

// finalStep is the step whose success means an action succeeded: the
// archive of a backup is committed, a restore finished; other actions are
// one step.
func finalStep(a *plan.Action) string {
	switch a.Type {
	case plan.Backup:
		return a.ID + "/archive"
	case plan.Restore:
		return a.ID + "/finish"
	default:
		return a.ID
	}
}

func (b *builder) action(a *plan.Action) error {
	r, err := b.resource(a.Resource)
	if err != nil {
		return err
	}
	st, err := b.store(a.Store)
	if err != nil {
		return err
	}
	switch a.Type {
	case plan.Backup:
		return b.backup(a, r, st)
	case plan.Copy:
		src, err := b.store(a.FromStore)
		if err != nil {
			return err
		}
		return b.copy(a, r, src, st)
	case plan.Prune, plan.Clean:
		return b.delete(a, r, st)
	case plan.Restore:
		return b.restore(a, r, st)
	case plan.Drill:
		return b.drill(a, r, st)
	default:
		return fmt.Errorf("action %s: type %q cannot be applied by this version of planb", a.ID, a.Type)
	}
}

func (b *builder) copy(a *plan.Action, r *config.Resource, src, dst store.Store) error {
	id := a.ID
	lockID := b.lockFor(r, dst, id)
	ref := plan.RefOf(r)
	b.add(dag.Step{
		ID:    id,
		Label: fmt.Sprintf("copy %s from store.%s to store.%s", a.Archive, src.Name(), dst.Name()),
		Group: Target{r.Address, dst.Name()},
		Deps:  b.after(a, lockID),
		Run: func(ctx context.Context, p *dag.Progress) error {
			if _, err := noteNode(ctx, dst, ref, a.Archive, b.env.Config.Node); err != nil {
				return err
			}
			err := prepareCopy(ctx, src, dst, ref, a.Archive)
			if err == nil {
				err = copyVerified(ctx, src, dst, ref, a.Archive, p)
			}
			if err != nil {
				var d *DamagedError
				if errors.As(err, &d) && d.Store == src.Name() {
					noteDamage(ctx, b.env.Logger, src, ref, a.Archive, "copy to store."+dst.Name(), d)
				}
				return err
			}
			b.verified.add(dst.Name(), ref, a.Archive)
			return nil
		},
	})
	return nil
}

// copyVerified copies an archive from src into dst, checking both ends.
// The source is read and checked first, as `planb verify` checks it: a
// damaged archive (a *DamagedError) is never copied. The copy is then
// checked where it landed: before it becomes visible where dst can read an
// upload back, by its size and the SHA-256 of all its bytes against what
// was sent; once committed otherwise, the same way, or, when the store's
// server made the copy, by checking it as the source was checked. A copy
// that fails its check is deleted.
//
// From an encrypted store without an identity only a copy into a store
// that encrypts to the same recipients can be made (copySealed).
func copyVerified(ctx context.Context, src, dst store.Store, ref store.Ref, name string, p *dag.Progress) error {
	if err := store.DecryptError(src); err != nil {
		return copySealed(ctx, src, dst, ref, name, err)
	}
	obj, err := src.Open(ctx, ref, name)
	if err != nil {
		return err
	}
	defer obj.Close()
	source, err := checkObject(ctx, src.Name(), ref, name, obj)
	if err != nil {
		if errors.As(err, new(*DamagedError)) {
			return fmt.Errorf("%w; not copied", err)
		}
		return fmt.Errorf("check the source: %w", err)
	}
	if c, ok := dst.(store.ServerSideCopier); ok {
		done, err := c.CopyFrom(ctx, src, ref, name)
		if err != nil {
			return err
		}
		if done {
			return checkServerCopy(ctx, dst, ref, name, source)
		}
	}
	p.SetTotal(obj.Size())
	up, err := dst.Create(ctx, ref, name)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			up.Abort()
		}
	}()
	sw := newSealWriter(up)
	if _, err := io.Copy(sw, p.Reader(io.NewSectionReader(obj, 0, obj.Size()))); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	if err := commitWritten(ctx, up, dst, ref, name, sw, true); err != nil {
		return err
	}
	committed = true
	return nil
}

// copySealed copies an archive out of an encrypted store that cannot
// decrypt (why says so) into dst. Only its encrypted bytes can be copied,
// so dst must encrypt to the same recipients: what can be checked without
// a key is checked in the source first (a damaged source is not copied),
// and the copy is compared byte for byte with the source
// (store.Encrypted.CopyFrom).
func copySealed(ctx context.Context, src, dst store.Store, ref store.Ref, name string, why error) error {
	c, ok := dst.(*store.Encrypted)
	if !ok || !store.SameEncryption(src, dst) {
		return fmt.Errorf("copy %s from store.%s to store.%s, which does not encrypt to the same recipients, decrypts it: %w",
			name, src.Name(), dst.Name(), why)
	}
	if _, err := checkArchive(ctx, src, ref, name); err != nil {
		if errors.As(err, new(*DamagedError)) {
			return fmt.Errorf("%w; not copied", err)
		}
		return fmt.Errorf("check the source: %w", err)
	}
	done, err := c.CopyFrom(ctx, src, ref, name)
	if err == nil && !done {
		err = fmt.Errorf("copy %s from store.%s to store.%s: it is not stored encrypted in store.%s, and reading it there needs its identity: %w",
			name, src.Name(), dst.Name(), src.Name(), why)
	}
	return err
}

// checkServerCopy checks a copy the store's server made: it must verify,
// and hold the source's manifest and size. A copy that fails is deleted.
// An encrypted store without an identity cannot read the copy: its
// CopyFrom compared the encrypted bytes already.
func checkServerCopy(ctx context.Context, dst store.Store, ref store.Ref, name string, source checked) error {
	if store.DecryptError(dst) != nil {
		return nil
	}
	got, err := checkArchive(ctx, dst, ref, name)
	if err == nil && (got.size != source.size || got.digest != source.digest) {
		err = fmt.Errorf("the copy (%d bytes) differs from the source (%d bytes)", got.size, source.size)
	}
	if err == nil {
		return nil
	}
	if derr := dst.Delete(context.WithoutCancel(ctx), ref, name); derr != nil {
		return fmt.Errorf("check the copy of %s in store.%s: %w; deleting the copy failed too: %v", name, dst.Name(), err, derr)
	}
	return fmt.Errorf("check the copy of %s in store.%s: %w; the copy was deleted", name, dst.Name(), err)
}

// sealWriter hashes and counts what passes through it on the way to an
// upload, so what lands in the store can be compared with what was sent.
type sealWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newSealWriter(w io.Writer) *sealWriter { return &sealWriter{w: w, h: sha256.New()} }

func (s *sealWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

// commitChecked checks a written archive and commits it. Where the upload
// can be read back (local stores) the check comes first, so no archive
// becomes visible unchecked: the bytes on disk must hash to what was
// written, and the archive must open with every manifest entry in place.
// The entries' contents were checksummed on their way in; `planb verify`
// decompresses and re-hashes them. Elsewhere the committed object is
// checked and deleted when it fails.
func commitChecked(ctx context.Context, up store.Upload, st store.Store, ref store.Ref, name string, sent *sealWriter) error {
	return commitWritten(ctx, up, st, ref, name, sent, false)
}

// commitWritten is commitChecked; with rehash, an archive that is checked
// once committed has its bytes read again and hashed too (a copy: its
// source's bytes were checked).
//
// An encrypted store without an identity cannot read the archive back: its
// upload checks the encrypted bytes it stored against those it sent
// (store.Encrypted.Create), and the archive is committed on that check.
func commitWritten(ctx context.Context, up store.Upload, st store.Store, ref store.Ref, name string, sent *sealWriter, rehash bool) error {
	if store.DecryptError(st) != nil {
		return up.Commit(ctx)
	}
	if rb, ok := up.(store.ReadBacker); ok {
		ra, size, err := rb.ReadBack()
		if err == nil {
			err = checkWritten(ctx, ra, size, sent, true)
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		return up.Commit(ctx)
	}
	if err := up.Commit(ctx); err != nil {
		return err
	}
	return checkCommitted(ctx, st, ref, name, sent, rehash)
}

// checkCommitted checks an archive that is visible already and deletes it
// when it fails. Without rehash its bytes are not read again (that would
// download it whole): its size and its structure are checked.
func checkCommitted(ctx context.Context, st store.Store, ref store.Ref, name string, sent *sealWriter, rehash bool) error {
	obj, err := st.Open(ctx, ref, name)
	if err != nil {
		return fmt.Errorf("check %s: %w", name, err)
	}
	defer obj.Close()
	if err := checkWritten(ctx, obj, obj.Size(), sent, rehash); err != nil {
		if derr := st.Delete(ctx, ref, name); derr != nil {
			err = errors.Join(err, derr)
		}
		return fmt.Errorf("check %s: %w", name, err)
	}
	return nil
}

// checkWritten compares an archive in a store with what was sent: the size
// and, with hashBytes, the SHA-256 of every byte; then it opens the archive
// and checks that the manifest's entries are all there with their sizes.
func checkWritten(ctx context.Context, ra io.ReaderAt, size int64, sent *sealWriter, hashBytes bool) error {
	if sent != nil {
		if size != sent.n {
			return fmt.Errorf("%d bytes stored, %d written", size, sent.n)
		}
		if hashBytes {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
				return err
			}
			if !bytes.Equal(h.Sum(nil), sent.h.Sum(nil)) {
				return errors.New("the stored bytes differ from the bytes written")
			}
		}
	}
	rd, err := archive.Open(ra, size)
	if err != nil {
		return err
	}
	m, err := rd.Manifest()
	if errors.Is(err, archive.ErrNoManifest) {
		return nil
	}
	if err != nil {
		return err
	}
	have := map[string]int64{}
	for _, e := range rd.Entries() {
		have[e.Name] = e.Size
	}
	for _, e := range m.Entries {
		got, ok := have[e.Name]
		switch {
		case !ok:
			return fmt.Errorf("entry %s of the manifest is missing", e.Name)
		case got != e.Size:
			return fmt.Errorf("entry %s holds %d bytes, the manifest says %d", e.Name, got, e.Size)
		}
	}
	return ctx.Err()
}

// delete builds prune and clean actions: remove the listed archives under
// the lock.
func (b *builder) delete(a *plan.Action, r *config.Resource, st store.Store) error {
	id := a.ID
	lockID := b.lockFor(r, st, id)
	ref := plan.RefOf(r)
	names := make([]string, 0, len(a.Delete))
	for _, d := range a.Delete {
		names = append(names, d.Archive)
	}
	label := fmt.Sprintf("prune %d archive(s) of %s in store.%s", len(names), r.Address, st.Name())
	if a.Type == plan.Clean {
		label = fmt.Sprintf("clean %d partial(s) of %s in store.%s", len(names), r.Address, st.Name())
	}
	b.add(dag.Step{
		ID:    id,
		Label: label,
		Group: Target{r.Address, st.Name()},
		Deps:  b.after(a, lockID),
		Run: func(ctx context.Context, _ *dag.Progress) error {
			if a.Type == plan.Prune {
				if err := b.keepsSound(ctx, st, ref, a.Delete); err != nil {
					return err
				}
			}
			remove, errs := names, []error(nil)
			if a.Type == plan.Clean {
				var err error
				if remove, errs, err = stillCleanable(ctx, st, ref, names); err != nil {
					return err
				}
			}
			// Another node's archives and partials are never deleted by a
			// node that is not among their owners, whatever the plan says.
			foreign, err := foreignNodes(ctx, st, ref, remove, b.env.Config.OwnersOf(r, b.env.Config.Stores[st.Name()]))
			if err != nil {
				return err
			}
			var deleted []string
			for _, n := range remove {
				if node, ok := foreign[n]; ok {
					errs = append(errs, fmt.Errorf("refusing to delete %s: node %s wrote it, and this node (%s) is not among the owners of %s", n, node, b.env.Config.Node, r.Address))
					continue
				}
				if err := st.Delete(ctx, ref, n); err != nil {
					errs = append(errs, fmt.Errorf("delete %s: %w", n, err))
					continue
				}
				deleted = append(deleted, n)
			}
			forgetNodes(ctx, b.env.Logger, st, ref, deleted)
			if a.Type == plan.Prune && len(deleted) > 0 {
				collectAfterPrune(ctx, b.env.Logger, st, packGrace(b.env.Config, st))
			}
			return errors.Join(errs...)
		},
	})
	return nil
}

// stillCleanable is a clean's last line of defence, run under the lock
// right before anything is deleted: of the partials the plan cleans, it
// returns those the store still lists and that catalog.Cleanable allows to
// clean now (their writer no longer holds the lock, or, unknown, they are
// old), and an error for each it refuses, saying whose it is.
func stillCleanable(ctx context.Context, st store.Store, ref store.Ref, names []string) (ok []string, refused []error, err error) {
	listed, err := st.ListResource(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]store.Archive{}
	for _, a := range listed {
		if a.Partial {
			byName[a.Name] = a
		}
	}
	now := time.Now()
	for _, n := range names {
		a, found := byName[n]
		if !found {
			ok = append(ok, n) // gone or not partial: Delete says which
			continue
		}
		if clean, why := catalog.Cleanable(a, now); !clean {
			refused = append(refused, fmt.Errorf("refusing to clean %s: %s", n, why))
			continue
		}
		ok = append(ok, n)
	}
	return ok, refused, nil
}

// keepsSound is a prune's last line of defence, run under the lock right
// before anything is deleted: the newest complete archive of the resource
// in the store must not be among the deleted (the catalog may have changed
// since the plan), and, unless the prune deletes only safety backups, at
// least one of the archives it keeps must be sound. Those are checked
// newest first, as `planb verify` checks them, until one is; an archive
// this apply wrote or copied and checked counts without being read again.
// When none is sound, or one cannot be read, nothing is deleted.
func (b *builder) keepsSound(ctx context.Context, st store.Store, ref store.Ref, deletions []plan.Deletion) error {
	all, err := st.ListResource(ctx, ref)
	if err != nil {
		return err
	}
	deleting := map[string]bool{}
	backups := false
	for _, d := range deletions {
		deleting[d.Archive] = true
		backups = backups || !catalog.IsSafety(d.Archive)
	}
	var newest *store.Archive
	var kept []store.Archive
	for i, a := range all {
		if a.Partial {
			continue
		}
		if newest == nil || a.Time.After(newest.Time) {
			newest = &all[i]
		}
		if !deleting[a.Name] && !a.Safety && !plan.Future(a, b.p.Now) {
			kept = append(kept, a)
		}
	}
	folder := fmt.Sprintf("%s in store.%s", ref, st.Name())
	if newest == nil {
		return fmt.Errorf("refusing to prune: no complete archive of %s is left", folder)
	}
	if deleting[newest.Name] {
		return fmt.Errorf("refusing to prune %s: it is the newest complete archive", newest.Name)
	}
	if !backups {
		return nil
	}
	if len(kept) == 0 {
		return fmt.Errorf("refusing to prune %s: it would keep no backup; nothing was deleted", folder)
	}
	slices.SortFunc(kept, func(x, y store.Archive) int { return y.Time.Compare(x.Time) })
	var damaged []string
	for _, a := range kept {
		if b.verified.has(st.Name(), ref, a.Name) {
			return nil
		}
		_, err := checkArchive(ctx, st, ref, a.Name)
		if err == nil {
			b.verified.add(st.Name(), ref, a.Name)
			return nil
		}
		var d *DamagedError
		if !errors.As(err, &d) {
			return fmt.Errorf("refusing to prune %s: could not check that an archive it keeps is sound, so nothing was deleted: %w", folder, err)
		}
		noteDamage(ctx, b.env.Logger, st, ref, a.Name, "prune", d)
		damaged = append(damaged, fmt.Sprintf("%s: %v", a.Name, d.Err))
	}
	return fmt.Errorf("refusing to prune %s: none of the %d archive(s) it keeps verifies, so nothing was deleted (%s)",
		folder, len(kept), strings.Join(damaged, "; "))
}

func tempDir(env *Env) string {
	if env.TempDir != "" {
		return env.TempDir
	}
	return os.TempDir()
}

// ConnConfig turns a configured database into the provider's connection
// settings; dbname overrides the database's own when not empty.
func ConnConfig(d *config.Database, dbname string) postgres.ConnConfig {
	c := postgres.ConnConfig{
		Host:     d.Host,
		Port:     d.Port,
		User:     d.User,
		Password: d.Password.Reveal(),
		DBName:   d.DBName,
		SSLMode:  d.SSLMode,
		BinDir:   d.BinDir,
	}
	if dbname != "" {
		c.DBName = dbname
	}
	if d.Password.Missing() != "" {
		c.Unusable = d.Password.MissingError("the password of database." + d.Name)
	}
	return c
}

// archiveDigest identifies an archive's contents: the SHA-256 of its
// manifest, or of its entry list (names, sizes, CRCs) when it has none.
func archiveDigest(rd *archive.Reader) (string, error) {
	h := sha256.New()
	m, err := rd.Manifest()
	switch {
	case err == nil:
		if err := json.NewEncoder(h).Encode(m); err != nil {
			return "", err
		}
	case errors.Is(err, archive.ErrNoManifest):
		for _, e := range rd.Entries() {
			fmt.Fprintf(h, "%s\x00%d\x00%08x\n", e.Name, e.Size, e.CRC32)
		}
	default:
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
