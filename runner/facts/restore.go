package facts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner"
)

// RestorePlan chooses the archive, reads what it holds and what exists
// now, and plans the restore; opts gives the time and planb's version.
func (e *Estate) RestorePlan(ctx context.Context, req plan.RestoreRequest, opts plan.Options) (*plan.Plan, error) {
	r := e.Config.Resource(req.Resource)
	if r == nil {
		return nil, fmt.Errorf("--restore %s: no such resource in the configuration", req.Resource)
	}
	cat, err := e.RestoreCatalog(ctx, r)
	if err != nil {
		return nil, err
	}
	interrupted, err := e.InterruptedRestore(ctx, r)
	if err != nil {
		return nil, err
	}
	if interrupted != nil && req.From == "" && req.ToDatabase == "" {
		// Finish what the interrupted restore began, from its archive.
		req.From, req.Store = interrupted.Archive, interrupted.Store
	}
	r, a, err := plan.ChooseArchive(e.Config, cat, req, opts.Now)
	if err != nil {
		return nil, err
	}
	contents, err := ArchiveContents(ctx, e.Stores[a.Store], a)
	if err != nil {
		return nil, err
	}
	schemas, err := plan.RestoreSchemas(r, contents, req.Roles)
	if err != nil {
		return nil, err
	}
	live, err := e.Live(ctx, r, schemas, req.ToDatabase)
	if err != nil {
		return nil, err
	}
	live.Interrupted = interrupted
	return plan.MakeRestore(e.Config, cat, r, a, contents, live, req, opts)
}

// CheckRestoreFresh refuses a saved restore plan whose archive or live
// state changed since it was made.
func (e *Estate) CheckRestoreFresh(ctx context.Context, p *plan.Plan) error {
	rp := p.Restore
	r := e.Config.Resource(rp.Resource)
	if r == nil {
		return fmt.Errorf("%w: %s is no longer configured", plan.ErrStale, rp.Resource)
	}
	cat, err := e.RestoreCatalog(ctx, r)
	if err != nil {
		return err
	}
	var a *catalog.Archive
	for _, x := range cat[rp.Store] {
		if x.Ref == plan.RefOf(r) && x.Name == rp.Archive {
			a = &x
			break
		}
	}
	if a == nil {
		return fmt.Errorf("%w: archive %s is no longer in store.%s", plan.ErrStale, rp.Archive, rp.Store)
	}
	contents, err := ArchiveContents(ctx, e.Stores[rp.Store], *a)
	if err != nil {
		return err
	}
	live, err := e.Live(ctx, r, rp.Schemas, rp.ToDatabase)
	if err != nil {
		return err
	}
	return p.CheckRestoreFresh(contents.Digest, live)
}

// RestoreCatalog lists the stores of the resource a restore is planned
// for. A restore needs them all (any of them may hold the newest archive,
// or the record of an interrupted restore): one that cannot be reached
// fails it, naming the store.
func (e *Estate) RestoreCatalog(ctx context.Context, r *config.Resource) (plan.Catalog, error) {
	cat, unreachable, err := e.Catalog(ctx, []*config.Resource{r})
	if err != nil {
		return nil, err
	}
	if names := UnreachableNames(unreachable); len(names) > 0 {
		return nil, fmt.Errorf("store.%s could not be reached (%s): a restore of %s needs every store of the resource", names[0], unreachable[names[0]], r.Address)
	}
	return cat, nil
}

// ArchiveContents opens an archive and reads its manifest and entry list.
func ArchiveContents(ctx context.Context, st store.Store, a catalog.Archive) (plan.ArchiveContents, error) {
	obj, err := st.Open(ctx, a.Ref, a.Name)
	if err != nil {
		return plan.ArchiveContents{}, err
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return plan.ArchiveContents{}, fmt.Errorf("%s: %w", a.Name, err)
	}
	var c plan.ArchiveContents
	m, err := rd.Manifest()
	switch {
	case err == nil:
		c.Manifest = m
	case errors.Is(err, archive.ErrNoManifest):
	default:
		return plan.ArchiveContents{}, fmt.Errorf("%s: %w", a.Name, err)
	}
	for _, e := range rd.Entries() {
		c.Entries = append(c.Entries, e.Name)
	}
	if c.Digest, err = runner.ArchiveDigest(rd); err != nil {
		return plan.ArchiveContents{}, err
	}
	return c, nil
}

// Live reads what a restore would replace: the schemas' figures (in
// toDatabase when not ""), the folders' sizes, and the leftovers of
// restores that did not finish.
func (e *Estate) Live(ctx context.Context, r *config.Resource, schemas []plan.SchemaRestore, toDatabase string) (plan.LiveState, error) {
	live := plan.LiveState{Schemas: map[string]plan.SchemaState{}}
	if r.Database != nil && len(schemas) > 0 {
		cc := runner.ConnConfig(r.Database, toDatabase)
		cc.LockTimeout = e.DBLockTimeout
		var targets []string
		for _, s := range schemas {
			if s.Role != "database" {
				targets = append(targets, s.Target)
			}
		}
		if err := schemaFacts(ctx, cc, targets, &live); err != nil {
			return live, postgres.ExplainLockTimeout(context.WithoutCancel(ctx), cc, targets, err)
		}
	}
	var err error
	if r.DeliveryFolder != "" {
		if live.Delivery, err = treeState(r.DeliveryFolder); err != nil {
			return live, err
		}
	}
	if r.Path != "" {
		if live.Files, err = treeState(r.Path); err != nil {
			return live, err
		}
	}
	for _, dir := range []string{r.DeliveryFolder, r.Path} {
		if dir == "" {
			continue
		}
		if err := folderLeftovers(dir, &live); err != nil {
			return live, err
		}
	}
	return live, nil
}

// folderLeftovers adds to live the folders beside dir that restores which
// did not finish left.
func folderLeftovers(dir string, live *plan.LiveState) error {
	found, err := files.Leftovers(dir)
	if err != nil {
		return err
	}
	for _, l := range found {
		what := "the archive's tree, extracted by a restore that did not finish"
		if l.Old {
			what = "earlier contents, moved aside by a restore that did not finish"
		}
		live.Leftovers = append(live.Leftovers, plan.Leftover{Kind: "folder", Name: l.Path, Of: dir, What: what})
	}
	return nil
}

// InterruptedRestore reads the record of a restore of r that began and
// did not finish from r's stores; nil when there is none.
func (e *Estate) InterruptedRestore(ctx context.Context, r *config.Resource) (*plan.RestoreRecord, error) {
	for _, s := range r.Stores {
		st := e.Stores[s.Name]
		if st == nil {
			continue
		}
		data, err := st.ReadRecord(ctx, plan.RefOf(r), store.RestoreRecord)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var rec plan.RestoreRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("store.%s: the record of an interrupted restore of %s is unreadable: %w", s.Name, r.Address, err)
		}
		return &rec, nil
	}
	return nil, nil
}

// schemaFacts reads the figures of the schemas a restore replaces, the
// objects outside them that depend on them, and the schemas interrupted
// restores left.
func schemaFacts(ctx context.Context, cc postgres.ConnConfig, targets []string, live *plan.LiveState) error {
	leftovers, err := postgres.Leftovers(ctx, cc)
	if err != nil {
		return err
	}
	for _, l := range leftovers {
		live.Leftovers = append(live.Leftovers, plan.Leftover{Kind: "schema", Name: l.Name, Of: l.Of, What: l.Comment})
	}
	snap, err := postgres.ExportSnapshot(ctx, cc)
	if err != nil {
		return err
	}
	defer snap.Close()
	for _, t := range targets {
		st, err := snap.SchemaStats(ctx, t)
		switch {
		case errors.Is(err, postgres.ErrSchemaNotFound):
			live.Schemas[t] = plan.SchemaState{}
		case err != nil:
			return err
		default:
			live.Schemas[t] = plan.SchemaState{Exists: true, Tables: st.Tables, RowEstimate: st.RowEstimate, Unanalyzed: st.Unanalyzed, Bytes: st.Bytes}
		}
	}
	deps, err := snap.Dependents(ctx, targets)
	if err != nil {
		return err
	}
	for _, d := range deps {
		live.Dependents = append(live.Dependents, plan.Dependent{Schema: d.Schema, Object: d.Object})
	}
	return nil
}

// treeState counts the files and bytes of dir; a dir that does not exist
// is the zero TreeState.
func treeState(dir string) (plan.TreeState, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return plan.TreeState{}, nil
	}
	n, _, bytes, err := files.TreeStats(dir)
	if err != nil {
		return plan.TreeState{}, err
	}
	return plan.TreeState{Exists: true, Files: n, Bytes: bytes}, nil
}
