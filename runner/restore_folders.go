package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/runner/dag"
)

// extract extracts a tree of the archive beside its target folder.
func (run *restoreRun) extract(ctx context.Context, p *dag.Progress, t *plan.TreeRestore) error {
	parent := filepath.Dir(filepath.Clean(t.Target))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	staging := files.StagingDir(t.Target)
	n, err := run.extractTree(ctx, t.Prefix, staging)
	if err != nil {
		os.RemoveAll(staging)
		return err
	}
	p.Add(n)
	run.mu.Lock()
	run.staged[t.Target] = staging
	run.mu.Unlock()
	return nil
}

// swapIn puts the extracted folders in place of their targets and writes
// the options, once the schemas committed. File-based persistence runs its
// before hooks first; the after hooks run in cleanup.
func (run *restoreRun) swapIn(ctx context.Context, env *Env) error {
	if run.rp.Files != nil && (len(run.r.Before) > 0 || len(run.r.After) > 0) {
		run.mu.Lock()
		run.before = true
		run.mu.Unlock()
		if err := runCommands(ctx, run.r.Before, env); err != nil {
			return err
		}
	}
	for _, t := range []*plan.TreeRestore{run.rp.Delivery, run.rp.Files} {
		if t == nil {
			continue
		}
		run.mu.Lock()
		staging := run.staged[t.Target]
		run.mu.Unlock()
		commit, rollback, err := files.SwapDir(t.Target, staging)
		if err != nil {
			return err
		}
		run.mu.Lock()
		delete(run.staged, t.Target)
		run.swaps = append(run.swaps, swap{dir: t.Target, commit: commit, rollback: rollback})
		run.replaced = append(run.replaced, "folder "+t.Target)
		run.mu.Unlock()
	}
	if o := run.rp.Options; o != nil {
		if err := run.options(o); err != nil {
			return fmt.Errorf("write %s: %w", o.Target, err)
		}
		run.mu.Lock()
		run.replaced = append(run.replaced, "options "+o.Target)
		run.mu.Unlock()
	}
	return nil
}

// options writes the archive's options.xml entry over its target file,
// atomically.
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
	if err := os.MkdirAll(filepath.Dir(o.Target), 0o755); err != nil {
		return err
	}
	return files.WriteFileAtomic(o.Target, data, 0o644)
}
