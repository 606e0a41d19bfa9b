package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner/facts"
)

type planOptions struct {
	out              string
	asJSON           bool
	detailedExitCode bool
	targets          []string
	restore          plan.RestoreRequest
}

func newPlanCmd(g *globals) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what is missing, due or expired",
		Long: `Plan compares the configuration with the archives the stores hold and shows,
per resource and store, what apply would do and why: back up (none yet, or the
newest is older than 'every'), copy (another store holds a fresh archive),
prune (retention no longer keeps an archive), clean (partial leftovers).

With --restore ADDR it plans a restore instead: per schema what exists now
against what the archive holds, the folders replaced, the options written, the
safety backup taken first and the after_restore hooks that will run.

A store that cannot be reached (its endpoint refuses or does not answer, its
folder cannot be read) does not stop the plan: its resources show as unknown
there, nothing is planned in it, the other stores are planned as usual, and
plan exits 4.

With --detailed-exitcode the exit code is 0 when nothing is to do, 2 when the
plan has changes and 1 on errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var p *plan.Plan
			var err error
			if o.restore.Resource != "" {
				if len(o.targets) > 0 {
					return errors.New("--target cannot be combined with --restore")
				}
				p, err = g.makeRestorePlan(cmd.Context(), o.restore)
			} else {
				if o.restore.From != "" || o.restore.Store != "" || len(o.restore.Roles) > 0 || o.restore.ToDatabase != "" || o.restore.NoSafetyBackup || o.restore.Cascade {
					return errors.New("--from, --store, --schema, --to-database, --no-safety-backup and --cascade go with --restore ADDR")
				}
				p, _, err = g.makePlan(cmd.Context(), o.targets)
			}
			if err != nil {
				return err
			}
			if o.out != "" {
				if err := p.Save(o.out); err != nil {
					return err
				}
			}
			view := views.NewPlan(views.KindOf(o.asJSON), g.view())
			if err := view.Plan(p); err != nil {
				return err
			}
			if o.out != "" {
				view.Saved(o.out)
			}
			// The plan of the other stores is shown (and saved); the
			// exit code says it is not the whole picture.
			if err := p.UnreachableError(); err != nil {
				return withCode(exitUnreadable, err)
			}
			if o.detailedExitCode && p.HasChanges() {
				return withCode(exitChanges, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "save the plan to FILE for 'planb apply FILE'")
	f.BoolVar(&o.asJSON, "json", false, "print the plan as one JSON document")
	f.BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 0 when nothing is to do, 2 when there are changes")
	f.StringArrayVar(&o.targets, "target", nil, "limit the plan to a resource address (repeatable)")
	f.StringVar(&o.restore.Resource, "restore", "", "plan a restore of the resource ADDR instead of backups")
	f.StringVar(&o.restore.From, "from", "", "restore this archive (name, with or without .zip, or time) instead of the newest")
	f.StringVar(&o.restore.Store, "store", "", "restore from this store")
	f.StringArrayVar(&o.restore.Roles, "schema", nil, "restore only the schema with this role: management, dashboard, analysis (repeatable); ROLE=NAME restores it as schema NAME")
	f.StringVar(&o.restore.ToDatabase, "to-database", "", "restore a copy into this database instead of the original")
	f.BoolVar(&o.restore.NoSafetyBackup, "no-safety-backup", false, "do not back up the current state before restoring")
	f.BoolVar(&o.restore.Cascade, "cascade", false, "drop the objects outside the restored schemas that depend on them (the plan lists each)")
	return cmd
}

// makePlan loads the configuration, lists the stores and plans.
func (g *globals) makePlan(ctx context.Context, targets []string) (*plan.Plan, *facts.Estate, error) {
	now, e, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	p, err := e.BackupPlan(ctx, targets, plan.Options{Now: now, PlanbVersion: version})
	if err != nil {
		return nil, nil, err
	}
	return p, e, nil
}

// makeRestorePlan loads the configuration, chooses the archive, reads what
// it holds and what exists now, and plans the restore.
func (g *globals) makeRestorePlan(ctx context.Context, req plan.RestoreRequest) (*plan.Plan, error) {
	now, e, err := g.open()
	if err != nil {
		return nil, err
	}
	return e.RestorePlan(ctx, req, plan.Options{Now: now, PlanbVersion: version})
}

// open returns the time plans are made at, and the configuration with its
// opened stores.
func (g *globals) open() (time.Time, *facts.Estate, error) {
	now, err := g.clock()
	if err != nil {
		return time.Time{}, nil, err
	}
	cfg, err := g.mustLoadConfig()
	if err != nil {
		return time.Time{}, nil, err
	}
	stores, err := g.openStores(cfg)
	if err != nil {
		return time.Time{}, nil, err
	}
	return now, g.estate(cfg, stores), nil
}
