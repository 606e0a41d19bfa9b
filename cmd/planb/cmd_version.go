package main

import (
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print planb's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			g.view().Version(version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
