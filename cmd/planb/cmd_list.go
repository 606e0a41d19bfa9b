package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
)

// Archive statuses shown by list.
const (
	statusComplete = "complete"
	statusPartial  = "partial"
	statusAdopted  = "adopted"
	statusOrphaned = "orphaned"
	statusForeign  = "foreign"
	statusDamaged  = "damaged"
)

// listedArchive is one row of `planb list`.
type listedArchive struct {
	Resource string    `json:"resource,omitempty"` // "" when orphaned
	Store    string    `json:"store"`
	Folder   string    `json:"folder"`
	Archive  string    `json:"archive"`
	Time     time.Time `json:"time"`
	Size     int64     `json:"size"`
	Status   string    `json:"status"`
	Detail   string    `json:"detail,omitempty"`
	// Safety marks a safety backup: the state a restore replaced.
	Safety bool `json:"safety,omitempty"`
	// Future marks an archive dated more than a few minutes after now.
	Future bool `json:"future,omitempty"`
	// Node is the planb node that made the archive, as its manifest says
	// ("" for archives of older versions and adopted ones).
	Node string `json:"node,omitempty"`
	// Encrypted marks an archive stored encrypted (Archive + ".age" in an
	// encrypted store); Size is then the encrypted size.
	Encrypted bool `json:"encrypted,omitempty"`

	ref store.Ref
	st  store.Store
	res *config.Resource // nil when orphaned
}

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
			filter := ""
			if len(args) == 1 {
				filter = args[0]
			}
			cfg, err := g.mustLoadConfig()
			if err != nil {
				return err
			}
			stores, err := g.openStores(cfg)
			if err != nil {
				return err
			}
			rows, unreachable, err := g.archivesOf(cmd.Context(), cfg, stores, filter, true)
			if err != nil {
				return err
			}
			failure := unlisted(unreachable)
			var addrs map[string]bool
			if filter != "" {
				addrs = map[string]bool{}
				for _, r := range rows {
					if r.Resource != "" {
						addrs[r.Resource] = true
					}
				}
			}
			drills, err := g.listDrills(cmd.Context(), cfg, reachable(stores, unreachable), addrs)
			if err != nil {
				return err
			}
			if asJSON {
				if rows == nil {
					rows = []listedArchive{} // "archives": [], never null
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					FormatVersion string             `json:"format_version"`
					Archives      []listedArchive    `json:"archives"`
					Drills        []listedDrill      `json:"drills,omitempty"`
					Unreachable   []unreachableStore `json:"unreachable_stores,omitempty"`
				}{"1.0", rows, drills, unreachableStores(unreachable)}); err != nil {
					return err
				}
				return failure
			}
			if len(rows) == 0 {
				fmt.Fprintln(g.stdout, "No archives.")
				return failure
			}
			tw := tabwriter.NewWriter(g.stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "RESOURCE\tSTORE\tARCHIVE\tTIME\tSIZE\tSTATUS")
			for _, r := range rows {
				res := r.Resource
				if res == "" {
					res = r.Folder
				}
				status := r.Status
				if r.Safety {
					status += " (safety backup)"
				}
				if r.Future {
					status += " (dated in the future)"
				}
				if r.Encrypted {
					status += " (encrypted)"
				}
				if r.Node != "" && r.Node != cfg.Node {
					status += " (node " + r.Node + ")"
				}
				if r.Detail != "" {
					status += ": " + r.Detail
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", res, r.Store, r.Archive, r.Time.Format(time.RFC3339), plan.FormatBytes(r.Size), status)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if err := g.writeDrills(drills); err != nil {
				return err
			}
			return failure
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

// archives lists the archives of every configured store whose resource
// address, folder or name matches filter ("" = all). With manifests, complete
// archives are opened to tell planb's from adopted ones. The stores that
// could not be reached are returned in unreachable, by name, with why.
func (g *globals) archives(ctx context.Context, filter string, manifests bool) (rows []listedArchive, unreachable map[string]string, err error) {
	cfg, err := g.mustLoadConfig()
	if err != nil {
		return nil, nil, err
	}
	stores, err := g.openStores(cfg)
	if err != nil {
		return nil, nil, err
	}
	return g.archivesOf(ctx, cfg, stores, filter, manifests)
}

// archivesOf is archives for a configuration loaded and its stores opened
// already.
func (g *globals) archivesOf(ctx context.Context, cfg *config.Config, stores map[string]store.Store, filter string, manifests bool) (rows []listedArchive, unreachable map[string]string, err error) {
	now, err := g.clock()
	if err != nil {
		return nil, nil, err
	}
	byRef := map[store.Ref]*config.Resource{}
	for _, r := range cfg.Resources {
		byRef[plan.RefOf(r)] = r
	}
	for _, name := range slices.Sorted(maps.Keys(stores)) {
		st := stores[name]
		list, err := st.List(ctx)
		if why := store.UnreachableReason(err); why != "" && ctx.Err() == nil {
			if unreachable == nil {
				unreachable = map[string]string{}
			}
			unreachable[name] = why
			continue
		}
		if err != nil {
			return nil, nil, &listError{fmt.Errorf("list store.%s (%s): %w", name, st, err)}
		}
		for _, a := range list {
			row := listedArchive{
				Store: name, Folder: a.Ref.Kind + "/" + a.Ref.Name, Archive: a.Name,
				Time: a.Time, Size: a.Size, Status: statusComplete, ref: a.Ref, st: st,
				Safety: a.Safety, Future: !a.Partial && plan.Future(a, now), Encrypted: a.Encrypted,
			}
			if r := byRef[a.Ref]; r != nil {
				row.Resource, row.res = r.Address, r
			}
			if !matches(row, filter) {
				continue
			}
			switch {
			case a.Partial:
				row.Status = statusPartial
			case row.Resource == "" && cfg.Stores[name].Shared:
				row.Status = statusForeign
			case row.Resource == "":
				row.Status = statusOrphaned
			}
			rows = append(rows, row)
		}
	}
	if manifests {
		readManifests(ctx, rows)
	}
	if filter != "" && len(rows) == 0 {
		if len(unreachable) > 0 {
			return nil, nil, &listError{fmt.Errorf("no archive matches %q in the stores that could be reached: %w", filter, unlisted(unreachable))}
		}
		return nil, nil, fmt.Errorf("no archive matches %q", filter)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Folder != rows[j].Folder {
			return rows[i].Folder < rows[j].Folder
		}
		if rows[i].Store != rows[j].Store {
			return rows[i].Store < rows[j].Store
		}
		return rows[i].Time.Before(rows[j].Time)
	})
	return rows, unreachable, nil
}

// unreachableStore is a store list could not reach, in list --json.
type unreachableStore struct {
	Store string `json:"store"`
	Error string `json:"error"`
}

// unreachableStores returns the unreachable stores sorted by name.
func unreachableStores(unreachable map[string]string) []unreachableStore {
	var out []unreachableStore
	for _, name := range unreachableNames(unreachable) {
		out = append(out, unreachableStore{name, unreachable[name]})
	}
	return out
}

// unlisted is the outcome of a listing that could not reach some stores:
// exit code 4, naming each; nil when every store was listed.
func unlisted(unreachable map[string]string) error {
	if len(unreachable) == 0 {
		return nil
	}
	var msgs []string
	for _, u := range unreachableStores(unreachable) {
		msgs = append(msgs, fmt.Sprintf("store.%s could not be reached (%s): its archives are not listed", u.Store, u.Error))
	}
	return withCode(exitUnreadable, errors.New(strings.Join(msgs, "; ")))
}

// reachable returns the stores that are not unreachable.
func reachable(stores map[string]store.Store, unreachable map[string]string) map[string]store.Store {
	if len(unreachable) == 0 {
		return stores
	}
	out := make(map[string]store.Store, len(stores))
	for name, st := range stores {
		if _, down := unreachable[name]; !down {
			out[name] = st
		}
	}
	return out
}

// manifestReaders bounds the archives whose manifests are read at once: a
// remote store answers each with a ranged request or two.
const manifestReaders = 16

// readManifests opens every complete archive of rows to tell planb's
// archives from adopted and damaged ones, several at a time.
func readManifests(ctx context.Context, rows []listedArchive) {
	sem := make(chan struct{}, manifestReaders)
	var wg sync.WaitGroup
	for i := range rows {
		if rows[i].Status != statusComplete {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *listedArchive) {
			defer wg.Done()
			defer func() { <-sem }()
			a := store.Archive{Ref: r.ref, Name: r.Archive}
			r.Status, r.Detail, r.Node = manifestStatus(ctx, r.st, a)
		}(&rows[i])
	}
	wg.Wait()
}

// listError is the error of a store whose listing failed: a store or
// network problem, not one of the configuration.
type listError struct{ err error }

func (e *listError) Error() string { return e.err.Error() }
func (e *listError) Unwrap() error { return e.err }

func matches(r listedArchive, filter string) bool {
	if filter == "" {
		return true
	}
	return r.Resource == filter || strings.HasPrefix(r.Resource, filter+"[") || r.Folder == filter ||
		r.Archive == filter || strings.TrimSuffix(r.Archive, ".zip") == filter
}

func manifestStatus(ctx context.Context, st store.Store, a store.Archive) (status, detail, node string) {
	obj, err := st.Open(ctx, a.Ref, a.Name)
	if isKeyError(err) {
		return statusComplete, noKeyDetail(st, err), ""
	}
	if err != nil {
		return statusDamaged, err.Error(), ""
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return statusDamaged, err.Error(), ""
	}
	m, err := rd.Manifest()
	if err != nil {
		if errors.Is(err, archive.ErrNoManifest) {
			return statusAdopted, "", ""
		}
		return statusDamaged, err.Error(), ""
	}
	return statusComplete, "", m.Node
}
