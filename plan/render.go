package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Style paints plan output; the zero value prints plain text.
type Style struct {
	Color bool
}

func (s Style) paint(text, code string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Summary is the closing line of a plan: "Plan: 2 to back up, 3 to prune,
// 4 up to date."
func (p *Plan) Summary() string {
	c := p.Counts()
	var parts []string
	if p.Operation == "restore" {
		parts = append(parts, fmt.Sprintf("%d to restore", c.Restore))
		if c.Backup > 0 {
			parts = append(parts, fmt.Sprintf("%d safety backup", c.Backup))
		}
		return "Plan: " + strings.Join(parts, ", ") + "."
	}
	pruned := 0
	for _, a := range p.Actions {
		if a.Type == Prune {
			pruned += len(a.Delete)
		}
	}
	parts = append(parts, fmt.Sprintf("%d to back up", c.Backup))
	if c.Copy > 0 {
		parts = append(parts, fmt.Sprintf("%d to copy", c.Copy))
	}
	parts = append(parts, fmt.Sprintf("%d to prune", pruned))
	if c.Clean > 0 {
		parts = append(parts, fmt.Sprintf("%d to clean", c.Clean))
	}
	if c.Drill > 0 {
		parts = append(parts, fmt.Sprintf("%d to drill", c.Drill))
	}
	parts = append(parts, fmt.Sprintf("%d up to date", c.UpToDate))
	if c.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown", c.Unknown))
	}
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// maxKeptShown bounds the archives a prune shows as kept: what it deletes
// is what a reviewer must see; with monthly and yearly rules the survivors
// of every resource would otherwise fill screens.
const maxKeptShown = 5

// maxUpToDateShown bounds the up-to-date resources listed one per line; an
// estate of hundreds of applications gets a count instead.
const maxUpToDateShown = 20

// WriteHuman prints the plan for a person to review.
func (p *Plan) WriteHuman(w io.Writer, st Style) error {
	bw := &errWriter{w: w}
	switch {
	case len(p.Actions) == 0 && len(p.Unreachable) > 0:
		bw.printf("No changes as of %s, but not every store could be reached.\n\n", p.Now.Format(time.RFC3339))
	case len(p.Actions) == 0:
		bw.printf("No changes: every resource is up to date as of %s.\n\n", p.Now.Format(time.RFC3339))
	default:
		bw.printf("planb will perform the following actions (as of %s):\n\n", p.Now.Format(time.RFC3339))
	}
	for _, a := range p.Actions {
		switch a.Type {
		case Backup:
			bw.printf("  %s backup %s into store.%s\n", st.paint("+", "32"), a.Resource, a.Store)
			bw.printf("      archive %s\n      because %s\n", a.Archive, a.Reason)
		case Copy:
			bw.printf("  %s copy %s from store.%s into store.%s\n", st.paint(">", "32"), a.Resource, a.FromStore, a.Store)
			bw.printf("      archive %s\n      because %s\n", a.Archive, a.Reason)
		case Prune:
			bw.printf("  %s prune %s in store.%s: %s\n", st.paint("-", "31"), a.Resource, a.Store, a.Reason)
			for _, d := range a.Delete {
				bw.printf("      %s %s (%s)\n", st.paint("delete", "31"), d.Archive, d.Why)
			}
			for i, k := range a.Keep {
				if i == maxKeptShown && len(a.Keep) > maxKeptShown+1 {
					bw.printf("      keep   %d more (plan --json lists them all)\n", len(a.Keep)-i)
					break
				}
				bw.printf("      keep   %s (%s)\n", k.Archive, strings.Join(k.Reasons, ", "))
			}
		case Clean:
			bw.printf("  %s clean %s in store.%s: %s\n", st.paint("~", "33"), a.Resource, a.Store, a.Reason)
			for _, d := range a.Delete {
				bw.printf("      %s %s (%s)\n", st.paint("delete", "31"), d.Archive, d.Why)
			}
		case Restore:
			p.writeRestore(bw, a, st)
		case Drill:
			p.writeDrill(bw, a, st)
		}
		if len(a.DependsOn) > 0 {
			var after []string
			for _, id := range a.DependsOn {
				after = append(after, p.describeAction(id))
			}
			bw.printf("      after  %s\n", strings.Join(after, "; "))
		}
		bw.printf("\n")
	}
	if p.Restore != nil && p.Restore.NoSafety != "" {
		bw.printf("No safety backup: %s.\n\n", p.Restore.NoSafety)
	}
	if p.Restore != nil {
		var left []string
		for _, l := range p.Restore.Leftovers {
			what := "kept (not part of this restore)"
			if l.Remove {
				what = "removed once the restore succeeded"
			}
			left = append(left, fmt.Sprintf("%s %s: %s; %s", l.Kind, l.Name, l.What, what))
		}
		bw.list("Left by interrupted restores:", left)
	}
	var upToDate []ResourceState
	for _, r := range p.Resources {
		if r.Status == StatusUpToDate {
			upToDate = append(upToDate, r)
		}
	}
	switch {
	case len(upToDate) > maxUpToDateShown:
		bw.printf("Up to date: %d resource/store pairs (plan --json lists them).\n\n", len(upToDate))
	case len(upToDate) > 0:
		bw.printf("Up to date:\n")
		for _, r := range upToDate {
			bw.printf("  %s in store.%s: newest %s, %s old\n", r.Resource, r.Store, r.Newest, FormatDuration(p.Now.Sub(r.NewestAt)))
		}
		bw.printf("\n")
	}
	p.writeUnknown(bw, st)
	p.writeDrillStates(bw, st)
	var future []string
	for _, r := range p.Resources {
		for _, f := range r.Future {
			future = append(future, fmt.Sprintf("store.%s %s", r.Store, f))
		}
	}
	bw.list(fmt.Sprintf("%s more than %s after %s (a copied file, or a wrong clock): never the newest, never counted or pruned by retention:",
		st.paint("Archives dated in the future", "33"), FormatDuration(FutureSkew), p.Now.Format(time.RFC3339)), future)
	var damaged []string
	for _, r := range p.Resources {
		for _, d := range r.Damaged {
			damaged = append(damaged, fmt.Sprintf("store.%s %s: %s (found by %s at %s)",
				r.Store, d.Archive, d.Problem, d.By, d.Found.UTC().Format(time.RFC3339)))
		}
	}
	bw.list(st.paint("Damaged archives", "31")+" (found by a check that read them): never the newest, never copied, never counted or pruned by retention; inspect and remove them by hand, or clear the mark with planb verify once they verify:", damaged)
	var others []string
	for _, r := range p.Resources {
		for _, o := range r.OtherNodes {
			what := ""
			switch {
			case o.Partial:
				what = ", partial"
			case o.Safety:
				what = ", safety backup"
			}
			others = append(others, fmt.Sprintf("%s in store.%s: %s (node %s%s)", r.Resource, r.Store, o.Archive, o.Node, what))
		}
	}
	bw.list("Archives of other nodes (not among the owners; this node never counts, prunes or cleans them):", others)
	var kept []string
	for _, r := range p.Resources {
		for _, k := range r.PartialsKept {
			kept = append(kept, fmt.Sprintf("%s in store.%s: %s, %s", r.Resource, r.Store, k.Archive, k.Why))
		}
	}
	bw.list("Partial archives not cleaned:", kept)
	var orphans []string
	for _, o := range p.Orphans {
		orphans = append(orphans, fmt.Sprintf("store.%s %s/%s", o.Store, o.Folder, o.Archive))
	}
	bw.list("Orphaned archives (their resources are no longer configured; a plan never deletes them):", orphans)
	for _, name := range slices.Sorted(maps.Keys(p.Foreign)) {
		bw.printf("store.%s is shared: %d archive(s) of resources that other configurations back up are not shown.\n\n", name, p.Foreign[name])
	}
	bw.printf("%s\n", st.paint(p.Summary(), "1"))
	return bw.err
}

// WriteJSON writes the plan as one JSON document.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}

// list prints a heading and one indented line per item, then a blank
// line; nothing when there are no items.
func (e *errWriter) list(heading string, items []string) {
	if len(items) == 0 {
		return
	}
	e.printf("%s\n", heading)
	for _, it := range items {
		e.printf("  %s\n", it)
	}
	e.printf("\n")
}

func (p *Plan) writeRestore(bw *errWriter, a *Action, st Style) {
	rp := p.Restore
	if rp == nil {
		return
	}
	bw.printf("  %s restore %s from store.%s\n", st.paint("!", "31"), a.Resource, a.FromStore)
	kind := ""
	if rp.Adopted {
		kind = ", made by the original system (no manifest)"
	}
	bw.printf("      archive %s (%s, %s%s)\n      because %s\n", rp.Archive, rp.Time.Format(time.RFC3339), FormatBytes(rp.Size), kind, a.Reason)
	where := "database " + rp.Database
	if rp.ToDatabase != "" {
		where += " (a copy: the original database is not touched)"
	}
	for _, s := range rp.Schemas {
		if s.Role == "database" {
			bw.printf("      %s %s: drop what the dump holds and restore it\n", st.paint("database", "1"), rp.Database)
			continue
		}
		from := ""
		if s.Source != s.Target {
			from = " (dumped as " + s.Source + ")"
		}
		bw.printf("      schema %s%s (%s) in %s: drop and restore\n", s.Target, from, s.Role, where)
		if s.Now.Exists {
			bw.printf("        now:     %d tables, %s, %s\n", s.Now.Tables, rowsText(s.Now), FormatBytes(s.Now.Bytes))
		} else {
			bw.printf("        now:     does not exist\n")
		}
		if rp.Adopted {
			bw.printf("        archive: %s\n", s.Entry)
		} else {
			bw.printf("        archive: %d tables, %s, %s\n", s.Archive.Tables, rowsText(s.Archive), FormatBytes(s.Archive.Bytes))
		}
	}
	if n := countSchemas(rp); n > 1 {
		bw.printf("      the %d schemas are replaced together, in one transaction: all of them or none\n", n)
	}
	if rp.Cascade && len(rp.Dependents) > 0 {
		bw.printf("      %s (--cascade): objects outside these schemas that depend on them\n", st.paint("also drops", "31"))
		for _, d := range rp.Dependents {
			bw.printf("        - %s\n", d.Object)
		}
	}
	for _, t := range []*TreeRestore{rp.Delivery, rp.Files} {
		if t == nil {
			continue
		}
		bw.printf("      folder %s: replace (extracted beside it, then swapped in)\n", t.Target)
		if t.Now.Exists {
			bw.printf("        now:     %d files, %s\n", t.Now.Files, FormatBytes(t.Now.Bytes))
		} else {
			bw.printf("        now:     does not exist\n")
		}
		bw.printf("        archive: %d files, %s\n", t.Archive.Files, FormatBytes(t.Archive.Bytes))
	}
	if rp.Options != nil {
		bw.printf("      options: write %s\n", rp.Options.Target)
	}
	if rp.OptionsSkipped != "" {
		bw.printf("      options: %s\n", rp.OptionsSkipped)
	}
	if rp.SafetyBackup != "" {
		bw.printf("      first:  safety backup %s of the current state\n", rp.SafetyBackup)
	}
	for _, h := range rp.Hooks {
		bw.printf("      then:   after_restore %s\n", h)
	}
}

// rowsText is a schema's row estimate: "~1200 rows", "rows unknown" when
// no table was ever analyzed, "~1200 rows (2 tables never analyzed)".
func rowsText(s SchemaState) string {
	switch {
	case s.Unanalyzed == 0:
		return fmt.Sprintf("~%d rows", s.RowEstimate)
	case s.Unanalyzed >= s.Tables:
		return "rows unknown"
	default:
		return fmt.Sprintf("~%d rows (%d tables never analyzed)", s.RowEstimate, s.Unanalyzed)
	}
}

// describeAction says in words what the action with ID id does, for the
// "after" line of the actions that wait for it.
func (p *Plan) describeAction(id string) string {
	a := p.Action(id)
	if a == nil {
		return id
	}
	switch {
	case a.Type == Backup && p.Restore != nil && a.Archive == p.Restore.SafetyBackup:
		return fmt.Sprintf("the safety backup %s into store.%s", a.Archive, a.Store)
	case a.Type == Backup:
		return fmt.Sprintf("the backup of %s into store.%s", a.Resource, a.Store)
	case a.Type == Copy:
		return fmt.Sprintf("the copy of %s into store.%s", a.Resource, a.Store)
	case a.Type == Clean:
		return fmt.Sprintf("the cleaning of %s in store.%s", a.Resource, a.Store)
	case a.Type == Prune:
		return fmt.Sprintf("the prune of %s in store.%s", a.Resource, a.Store)
	case a.Type == Drill:
		return fmt.Sprintf("the drill of %s from store.%s", a.Resource, a.Store)
	}
	return id
}

func countSchemas(rp *RestorePlan) int {
	n := 0
	for _, s := range rp.Schemas {
		if s.Role != "database" {
			n++
		}
	}
	return n
}

// FormatBytes prints n in binary units: "512 B", "1.5 KiB", "2.0 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
