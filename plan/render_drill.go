package plan

import (
	"fmt"
	"strings"
	"time"
)

// writeDrill prints a drill action.
func (p *Plan) writeDrill(bw *errWriter, a *Action, st Style) {
	d := a.Drill
	if d == nil {
		return
	}
	bw.printf("  %s drill %s from store.%s (drill.%s)\n", st.paint("*", "36"), a.Resource, a.Store, d.Name)
	bw.printf("      archive %s (%s)\n      because %s\n", a.Archive, d.Choice, a.Reason)
	where := "a scratch folder"
	if d.Database != "" {
		where = "a scratch database on the server of database." + d.Database + " and a scratch folder"
	}
	bw.printf("      restore it into %s, compare with its manifest, remove them; record the result in store.%s\n", where, a.Store)
}

// writeDrillStates lists the drilled resources that are not drilled by
// this plan: up to date, or without an archive to drill.
func (p *Plan) writeDrillStates(bw *errWriter, st Style) {
	var lines []string
	for _, s := range p.Drills {
		switch s.Status {
		case DrillUpToDate:
			line := fmt.Sprintf("  %s (drill.%s): %s", s.Resource, s.Drill, s.Reason)
			if s.Last != nil {
				line += fmt.Sprintf(" (%s, %s from store.%s)", s.Last.Result, s.Last.Archive, s.Last.Store)
			}
			lines = append(lines, line)
		case DrillNoArchive, DrillNoKey:
			lines = append(lines, fmt.Sprintf("  %s (drill.%s): %s %s", s.Resource, s.Drill, st.paint("cannot drill:", "33"), s.Reason))
		}
	}
	if len(lines) == 0 {
		return
	}
	bw.printf("Drills:\n%s\n\n", strings.Join(lines, "\n"))
}

// DrillAge says how long ago a drill made at t was, as of now: "8d ago".
func DrillAge(t, now time.Time) string {
	if d := now.Sub(t); d >= 0 {
		return FormatDuration(d) + " ago"
	}
	return "dated " + FormatDuration(t.Sub(now)) + " after now"
}
