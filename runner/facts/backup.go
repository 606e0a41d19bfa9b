package facts

import (
	"context"
	"strings"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
)

// BackupPlan lists the stores, reads the records kept beside the archives
// of the targeted resources (all when targets is empty) and plans their
// backups, copies, prunes, cleans and drills; opts gives the time and
// planb's version. Two nodes backing up one resource is refused: the error
// names them and the ways out.
func (e *Estate) BackupPlan(ctx context.Context, targets []string, opts plan.Options) (*plan.Plan, error) {
	cat, unreachable, err := e.Catalog(ctx, e.Config.Resources)
	if err != nil {
		return nil, err
	}
	resources := Targeted(e.Config.Resources, targets)
	if opts.Damaged, err = e.Damage(ctx, cat, resources); err != nil {
		return nil, err
	}
	if opts.Drills, err = e.Drills(ctx, cat, resources); err != nil {
		return nil, err
	}
	if opts.Nodes, err = e.Nodes(ctx, cat, resources); err != nil {
		return nil, err
	}
	if opts.Versions, err = e.Versions(ctx, cat, resources); err != nil {
		return nil, err
	}
	opts.Targets, opts.Unreachable = targets, unreachable
	p, err := plan.Make(e.Config, cat, opts)
	if err != nil {
		return nil, err
	}
	if err := p.ConflictError(); err != nil {
		return nil, err
	}
	return p, nil
}

// Targeted returns the resources whose address is one of targets or an
// instance of one (targets "app" selects "app[0]"); all of them when
// targets is empty.
func Targeted(resources []*config.Resource, targets []string) []*config.Resource {
	if len(targets) == 0 {
		return resources
	}
	var out []*config.Resource
	for _, r := range resources {
		for _, t := range targets {
			if r.Address == t || strings.HasPrefix(r.Address, t+"[") {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// CheckSaved refuses a saved plan whose configuration or catalog changed
// since it was made; it returns the stores that cannot be reached now, by
// name, with why. A saved restore plan is checked further with
// CheckRestoreFresh.
func (e *Estate) CheckSaved(ctx context.Context, p *plan.Plan) (unreachable map[string]string, err error) {
	cat, unreachable, err := e.Catalog(ctx, e.Config.Resources)
	if err != nil {
		return nil, err
	}
	if err := p.CheckFresh(e.Config.Digest, cat, UnreachableNames(unreachable)...); err != nil {
		return nil, err
	}
	return unreachable, nil
}
