package views

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner/facts"
)

// Listing is what `planb list` found.
type Listing struct {
	Archives []facts.ArchiveRow
	Drills   []facts.DrillRow
	// Unreachable holds the stores that could not be listed, by name,
	// with why.
	Unreachable map[string]string
	// Node is this host's node: archives other nodes made are marked.
	Node string
}

// List shows the catalog `planb list` prints.
type List interface {
	List(l Listing) error
}

// NewList returns the view of list of the given kind.
func NewList(k Kind, v *View) List {
	if k == JSON {
		return &listJSON{v}
	}
	return &listHuman{v}
}

// listJSON prints one JSON document (format_version 1.0).
type listJSON struct{ v *View }

// unreachableStore is a store list could not reach, in list --json.
type unreachableStore struct {
	Store string `json:"store"`
	Error string `json:"error"`
}

func (j *listJSON) List(l Listing) error {
	rows := l.Archives
	if rows == nil {
		rows = []facts.ArchiveRow{} // "archives": [], never null
	}
	var down []unreachableStore
	for _, name := range facts.UnreachableNames(l.Unreachable) {
		down = append(down, unreachableStore{name, l.Unreachable[name]})
	}
	enc := json.NewEncoder(j.v.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		FormatVersion string             `json:"format_version"`
		Archives      []facts.ArchiveRow `json:"archives"`
		Drills        []facts.DrillRow   `json:"drills,omitempty"`
		Unreachable   []unreachableStore `json:"unreachable_stores,omitempty"`
	}{"1.0", rows, l.Drills, down})
}

// listHuman prints a table of archives, then one of drills.
type listHuman struct{ v *View }

func (h *listHuman) List(l Listing) error {
	if len(l.Archives) == 0 {
		fmt.Fprintln(h.v.Stdout, "No archives.")
		return nil
	}
	tw := tabwriter.NewWriter(h.v.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tSTORE\tARCHIVE\tTIME\tSIZE\tSTATUS")
	for _, r := range l.Archives {
		res := r.Resource
		if res == "" {
			res = r.Folder
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", res, r.Store, r.Archive, r.Time.Format(time.RFC3339), plan.FormatBytes(r.Size), archiveStatus(r, l.Node))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return h.drills(l.Drills)
}

// archiveStatus is the STATUS column of an archive: its status and what
// else is worth knowing of it.
func archiveStatus(r facts.ArchiveRow, node string) string {
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
	if r.Node != "" && r.Node != node {
		status += " (node " + r.Node + ")"
	}
	if r.Detail != "" {
		status += ": " + r.Detail
	}
	return status
}

// drills prints the last drill of each drilled resource below the
// archives.
func (h *listHuman) drills(drills []facts.DrillRow) error {
	if len(drills) == 0 {
		return nil
	}
	fmt.Fprintln(h.v.Stdout)
	tw := tabwriter.NewWriter(h.v.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tDRILL\tLAST DRILL\tARCHIVE\tSTORE\tDURATION\tRESULT")
	for _, d := range drills {
		if d.Result == facts.DrillNever {
			fmt.Fprintf(tw, "%s\tdrill.%s\tnever\t-\t-\t-\t-\n", d.Resource, d.Drill)
			continue
		}
		result := d.Result
		if len(d.Problems) > 0 {
			result += ": " + strings.Join(d.Problems, "; ")
		}
		dur := (time.Duration(d.DurationSeconds * float64(time.Second))).Round(100 * time.Millisecond)
		fmt.Fprintf(tw, "%s\tdrill.%s\t%s\t%s\t%s\t%s\t%s\n", d.Resource, d.Drill, d.Time.Format(time.RFC3339), d.Archive, d.Store, dur, result)
	}
	return tw.Flush()
}
