package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/store"
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

// ArchiveDigest identifies an archive's contents: the SHA-256 of its
// manifest, or of its entry list (names, sizes, CRCs) when it has none. A
// restore plan records it (runner/facts) and the restore checks that the
// archive it opens still has it.
func ArchiveDigest(rd *archive.Reader) (string, error) {
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
