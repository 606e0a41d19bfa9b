package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/runner/facts"
)

func newListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [ADDR|ARCHIVE]",
		Short: "List every archive per resource and store",
		Long: `List prints the catalog: every archive of every resource in every configured
store, with its time, size and status: complete, partial (a leftover of an
interrupted run), adopted (made by the original system, without manifest),
orphaned (its resource is no longer configured), foreign (in a shared store,
a resource another configuration backs up) or damaged (unreadable). Then,
for every resource a drill covers, its last restore drill: when, from which
archive and store, its result and how long it took.

A store that cannot be reached (its endpoint refuses or does not answer, its
folder cannot be read) does not stop the listing: the other stores are
listed, the unreachable one is named on standard error (and in --json's
unreachable_stores), and list exits 4.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runList(cmd.Context(), args, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

func (g *globals) runList(ctx context.Context, args []string, asJSON bool) error {
	filter, e, rows, unreachable, err := g.archives(ctx, args, true)
	if err != nil {
		return err
	}
	drills, err := e.ListDrills(ctx, facts.Reachable(e.Stores, unreachable), drilled(filter, rows))
	if err != nil {
		return err
	}
	listing := views.Listing{Archives: rows, Drills: drills, Unreachable: unreachable, Node: e.Config.Node}
	if err := views.NewList(views.KindOf(asJSON), g.view()).List(listing); err != nil {
		return err
	}
	return facts.Unlisted(unreachable)
}

// archives lists the archives whose resource address, folder or name
// matches the filter args name (all when none), with manifests as for
// facts.Estate.Archives.
func (g *globals) archives(ctx context.Context, args []string, manifests bool) (filter string, e *facts.Estate, rows []facts.ArchiveRow, unreachable map[string]string, err error) {
	if len(args) == 1 {
		filter = args[0]
	}
	now, e, err := g.open()
	if err != nil {
		return "", nil, nil, nil, err
	}
	rows, unreachable, err = e.Archives(ctx, filter, manifests, now)
	return filter, e, rows, unreachable, err
}

// drilled is the resources whose drills list shows: those of the archives
// listed when a filter chose them, all (nil) without filter.
func drilled(filter string, rows []facts.ArchiveRow) map[string]bool {
	if filter == "" {
		return nil
	}
	addrs := map[string]bool{}
	for _, r := range rows {
		if r.Resource != "" {
			addrs[r.Resource] = true
		}
	}
	return addrs
}
