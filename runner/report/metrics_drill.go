package report

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner/dag"
)

// DrillMetric is where a drilled resource stands after a run: its last
// restore drill, made by this run or found recorded by the plan.
type DrillMetric struct {
	Resource string
	Drill    string
	// Last is the time of the last drill (the time of the plan it was made
	// from); LastSuccess that of the last one that succeeded, zero when
	// none did.
	Last        time.Time
	LastSuccess time.Time
	Duration    time.Duration
	OK          bool
}

// drillFamilies lists the series of DrillMetrics, in output order.
var drillFamilies = []struct {
	name, help string
	value      func(m DrillMetric) (string, bool)
}{
	{
		"planb_drill_last_timestamp_seconds",
		"Unix time of the last restore drill of the resource.",
		func(m DrillMetric) (string, bool) { return unixSeconds(m.Last), true },
	},
	{
		"planb_drill_last_success_timestamp_seconds",
		"Unix time of the last restore drill of the resource that succeeded.",
		func(m DrillMetric) (string, bool) {
			if m.LastSuccess.IsZero() {
				return "", false
			}
			return unixSeconds(m.LastSuccess), true
		},
	},
	{
		"planb_drill_duration_seconds",
		"Duration of the last restore drill of the resource.",
		func(m DrillMetric) (string, bool) {
			return strconv.FormatFloat(m.Duration.Seconds(), 'f', -1, 64), true
		},
	},
	{
		"planb_drill_success",
		"Whether the last restore drill of the resource succeeded (1) or found a problem (0).",
		func(m DrillMetric) (string, bool) {
			if m.OK {
				return "1", true
			}
			return "0", true
		},
	},
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// DrillMetrics returns the restore drill state of every resource the plan
// covers with a drill and that was ever drilled: the drill this run made
// of it, else the last one its stores recorded. A drill this run did not
// get to (skipped, cancelled) leaves the recorded state.
func DrillMetrics(p *plan.Plan, res *dag.Result) []DrillMetric {
	var out []DrillMetric
	for _, s := range p.Drills {
		m := DrillMetric{Resource: s.Resource, Drill: s.Drill, LastSuccess: s.LastSuccess}
		if s.Last != nil {
			m.Last = s.Last.Time
			m.Duration = time.Duration(s.Last.DurationSeconds * float64(time.Second))
			m.OK = s.Last.Result == plan.DrillOK
		}
		for _, a := range p.Actions {
			if a.Type != plan.Drill || a.Resource != s.Resource || res == nil {
				continue
			}
			for _, sr := range res.Steps {
				if sr.Step.ID != a.ID || (sr.Status != dag.StatusOK && sr.Status != dag.StatusFailed) {
					continue
				}
				m.Last, m.Duration, m.OK = p.Now, sr.Duration, sr.Status == dag.StatusOK
				if m.OK {
					m.LastSuccess = p.Now
				}
			}
		}
		if !m.Last.IsZero() {
			out = append(out, m)
		}
	}
	return out
}

// MergeDrillMetrics returns later's metrics and those of earlier for
// resources later does not hold: a plan made again after the first one of
// an apply replaces what it covers.
func MergeDrillMetrics(earlier, later []DrillMetric) []DrillMetric {
	out := slices.Clone(later)
	for _, m := range earlier {
		if !slices.ContainsFunc(later, func(l DrillMetric) bool { return l.Resource == m.Resource }) {
			out = append(out, m)
		}
	}
	return out
}

// writeDrillFamilies appends the drill families to buf, one gauge per
// resource, sorted by resource; nothing without drills.
func writeDrillFamilies(buf *bytes.Buffer, ds []DrillMetric) error {
	if len(ds) == 0 {
		return nil
	}
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b DrillMetric) int { return cmp.Compare(a.Resource, b.Resource) })
	for i := 1; i < len(ds); i++ {
		if ds[i].Resource == ds[i-1].Resource {
			return fmt.Errorf("write metrics: drill of resource %q listed twice", ds[i].Resource)
		}
	}
	for _, f := range drillFamilies {
		fmt.Fprintf(buf, "# HELP %s %s\n# TYPE %s gauge\n", f.name, f.help, f.name)
		for _, m := range ds {
			if v, ok := f.value(m); ok {
				fmt.Fprintf(buf, "%s{resource=\"%s\",drill=\"%s\"} %s\n", f.name, escapeLabel(m.Resource), escapeLabel(m.Drill), v)
			}
		}
	}
	return nil
}
