package main

import (
	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan"
)

func newShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show PLAN-FILE",
		Short: "Print a saved plan",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := plan.Load(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return p.WriteJSON(g.stdout)
			}
			return p.WriteHuman(g.stdout, plan.Style{Color: g.colorStdout()})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as one JSON document")
	return cmd
}
