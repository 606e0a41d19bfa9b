package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner"
)

func newGraphCmd(g *globals) *cobra.Command {
	var targets []string
	cmd := &cobra.Command{
		Use:   "graph [PLAN-FILE]",
		Short: "Print the step graph of a plan as Graphviz DOT",
		Long: `Graph prints the steps apply would run, and their dependencies, as Graphviz
DOT: the plan made now, or the saved PLAN-FILE. Render it with
'planb graph | dot -Tsvg > plan.svg'. --target limits the plan made now to
resources, as for plan.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p *plan.Plan
			cfg, err := g.mustLoadConfig()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if len(targets) > 0 {
					return errors.New("--target cannot be combined with a saved plan: the plan's targets were fixed when it was made")
				}
				if p, err = plan.Load(args[0]); err != nil {
					return err
				}
			} else if p, _, err = g.makePlan(cmd.Context(), targets); err != nil {
				return err
			}
			stores, err := g.openStores(cfg)
			if err != nil {
				return err
			}
			graph, err := runner.Build(p, &runner.Env{Config: cfg, Stores: stores, Logger: g.logger, PlanbVersion: version})
			if err != nil {
				return err
			}
			return g.view().Graph(graph)
		},
	}
	cmd.Flags().StringArrayVar(&targets, "target", nil, "limit the plan to a resource address (repeatable)")
	return cmd
}
