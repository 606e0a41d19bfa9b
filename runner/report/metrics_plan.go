package report

import (
	"strings"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner/dag"
)

// BackupMetrics turns the result of applying a plan into one metric per
// backup or copy action: whether it succeeded, how long it took and how many
// bytes it moved. LastSuccess is the new archive's time after a success, and
// the newest archive the plan found before a failure, so the series does not
// vanish when a run fails.
func BackupMetrics(p *plan.Plan, res *dag.Result) []Metric {
	var out []Metric
	for _, a := range p.Actions {
		if a.Type != plan.Backup && a.Type != plan.Copy {
			continue
		}
		m := Metric{Resource: a.Resource, Store: a.Store, OK: true}
		var first, last time.Time
		seen := false
		for _, sr := range res.Steps {
			if sr.Step.ID != a.ID && !strings.HasPrefix(sr.Step.ID, a.ID+"/") {
				continue
			}
			seen = true
			if sr.Status != dag.StatusOK {
				m.OK = false
			}
			m.Bytes += sr.Bytes
			if !sr.Start.IsZero() && (first.IsZero() || sr.Start.Before(first)) {
				first = sr.Start
			}
			if end := sr.Start.Add(sr.Duration); end.After(last) {
				last = end
			}
		}
		if !seen {
			continue
		}
		if !first.IsZero() {
			m.Duration = last.Sub(first)
		}
		if _, t, _, ok := catalog.ParseArchiveName(a.Archive); ok && m.OK {
			m.LastSuccess = t
		} else {
			for _, st := range p.Resources {
				if st.Resource == a.Resource && st.Store == a.Store {
					m.LastSuccess = st.NewestAt
				}
			}
		}
		out = append(out, m)
	}
	return out
}
