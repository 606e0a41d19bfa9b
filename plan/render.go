package plan

import (
	"encoding/json"
	"fmt"
	"io"
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
	parts = append(parts, fmt.Sprintf("%d up to date", c.UpToDate))
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// WriteHuman prints the plan for a person to review.
func (p *Plan) WriteHuman(w io.Writer, st Style) error {
	bw := &errWriter{w: w}
	if len(p.Actions) == 0 {
		bw.printf("No changes: every resource is up to date as of %s.\n\n", p.Now.Format(time.RFC3339))
	} else {
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
			for _, k := range a.Keep {
				bw.printf("      keep   %s (%s)\n", k.Archive, strings.Join(k.Reasons, ", "))
			}
		case Clean:
			bw.printf("  %s clean %s in store.%s: %s\n", st.paint("~", "33"), a.Resource, a.Store, a.Reason)
			for _, d := range a.Delete {
				bw.printf("      %s %s\n", st.paint("delete", "31"), d.Archive)
			}
		}
		if len(a.DependsOn) > 0 {
			bw.printf("      after  %s\n", strings.Join(a.DependsOn, "; "))
		}
		bw.printf("\n")
	}
	var upToDate []ResourceState
	for _, r := range p.Resources {
		if r.Status == StatusUpToDate {
			upToDate = append(upToDate, r)
		}
	}
	if len(upToDate) > 0 {
		bw.printf("Up to date:\n")
		for _, r := range upToDate {
			bw.printf("  %s in store.%s: newest %s, %s old\n", r.Resource, r.Store, r.Newest, FormatDuration(p.Now.Sub(r.NewestAt)))
		}
		bw.printf("\n")
	}
	if len(p.Orphans) > 0 {
		bw.printf("Orphaned archives (their resources are no longer configured; a plan never deletes them):\n")
		for _, o := range p.Orphans {
			bw.printf("  store.%s %s/%s\n", o.Store, o.Folder, o.Archive)
		}
		bw.printf("\n")
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
