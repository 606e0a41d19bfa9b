package runner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/runner/dag"
)

// database restores a whole-database dump.
func (run *restoreRun) database(ctx context.Context, p *dag.Progress, cc postgres.ConnConfig, s plan.SchemaRestore) error {
	rc, err := run.rd.OpenEntry(s.Entry)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Entry, err)
	}
	defer rc.Close()
	if err := postgres.Restore(ctx, cc, postgres.RestoreOptions{Clean: true}, p.Reader(rc)); err != nil {
		return err
	}
	run.mu.Lock()
	run.replaced = append(run.replaced, "database "+cc.DBName)
	run.mu.Unlock()
	return nil
}

// schemas replaces the restored schemas together, in one transaction. The
// archive's other schemas come along as context when a schema is restored
// under another name: they are restored beside it in the scratch database,
// so that its references to them resolve.
func (run *restoreRun) schemas(ctx context.Context, p *dag.Progress, cc postgres.ConnConfig, set []plan.SchemaRestore, lockTimeout time.Duration) error {
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
	for _, l := range run.rp.Leftovers {
		if l.Kind == "schema" && l.Remove {
			opts.Drop = append(opts.Drop, l.Name)
		}
	}
	if err := postgres.RestoreSet(ctx, cc, dumps, opts); err != nil {
		return err
	}
	run.mu.Lock()
	run.replaced = append(run.replaced, "schemas")
	run.mu.Unlock()
	return nil
}

// dump opens an archive entry as a schema dump; p, when set, counts what is
// read.
func (run *restoreRun) dump(schema, entry string, p *dag.Progress) postgres.SchemaDump {
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
