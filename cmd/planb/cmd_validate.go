package main

import (
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan/config"
)

func newValidateCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration offline",
		Long: `Validate parses and checks every *.hcl file of the configuration directory.
It connects to nothing and needs no secrets: variables without a value are
treated as unknown, so a CI job without credentials can run it.
Exit code 0 means valid, 1 invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, diags, err := g.loadConfig(true)
			if err != nil {
				return err
			}
			if err := views.NewValidate(views.KindOf(asJSON), g.view()).Validate(diags); err != nil {
				return err
			}
			if diags.HasErrors() {
				return withCode(exitError, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document (format_version 1.0)")
	return cmd
}

// loadConfig reads the configuration of --chdir. Offline loads leave
// variables without a value unknown.
func (g *globals) loadConfig(offline bool) (*config.Config, hcl.Diagnostics, error) {
	vars, err := g.varMap()
	if err != nil {
		return nil, nil, err
	}
	cfg, diags := config.Load(g.chdir, config.LoadOptions{
		Vars:     vars,
		VarFiles: g.varFiles,
		Getenv:   os.Getenv,
		Offline:  offline,
		// Commands that act on the configuration load it without the values
		// of sensitive variables when none were given: only the steps that
		// connect with them fail, naming the variable.
		DeferSecrets: !offline,
	})
	return cfg, diags, nil
}

// mustLoadConfig loads the configuration for commands that act on it: any
// error diagnostics are printed and end the command.
func (g *globals) mustLoadConfig() (*config.Config, error) {
	cfg, diags, err := g.loadConfig(false)
	if err != nil {
		return nil, err
	}
	if err := g.view().Diagnostics(diags, nil); err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, withCode(exitError, nil)
	}
	return cfg, nil
}
