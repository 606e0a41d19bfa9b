package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan"
)

func newShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show PLAN-FILE",
		Short: "Print a saved plan",
		Long: `Show prints a plan saved with 'planb plan --out PLAN-FILE' (or 'plan --restore
… --out PLAN-FILE') as plan printed it, or with --json as one JSON document,
without reading the configuration or the stores: review a plan before
'planb apply PLAN-FILE' runs exactly it.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("show prints a saved plan: planb show PLAN-FILE, where PLAN-FILE was written by planb plan --out PLAN-FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := plan.Load(args[0])
			if err != nil {
				return err
			}
			return views.NewPlan(views.KindOf(asJSON), g.view()).Plan(p)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as one JSON document")
	return cmd
}
