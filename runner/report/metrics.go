package report

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/planb-backup/planb/providers/files"
)

// Metric is the state of one resource in one store after a run.
type Metric struct {
	Resource string
	Store    string
	// LastSuccess is when the newest successful backup was completed; the
	// zero time (never) omits the timestamp series.
	LastSuccess time.Time
	// Duration and Bytes describe the backup of this run.
	Duration time.Duration
	Bytes    int64
	// OK reports whether this run's backup succeeded.
	OK bool
}

// metricFamilies lists the series WriteMetrics writes, in output order.
var metricFamilies = []struct {
	name, help string
	value      func(m Metric) (string, bool)
}{
	{
		"planb_backup_last_success_timestamp_seconds",
		"Unix time of the last successful backup of the resource in the store.",
		func(m Metric) (string, bool) {
			if m.LastSuccess.IsZero() {
				return "", false
			}
			return strconv.FormatFloat(float64(m.LastSuccess.UnixMilli())/1000, 'f', -1, 64), true
		},
	},
	{
		"planb_backup_duration_seconds",
		"Duration of the last backup run of the resource in the store.",
		func(m Metric) (string, bool) { return strconv.FormatFloat(m.Duration.Seconds(), 'f', -1, 64), true },
	},
	{
		"planb_backup_bytes",
		"Bytes written by the last backup run of the resource in the store.",
		func(m Metric) (string, bool) { return strconv.FormatInt(m.Bytes, 10), true },
	},
	{
		"planb_backup_success",
		"Whether the last backup run of the resource in the store succeeded (1) or not (0).",
		func(m Metric) (string, bool) {
			if m.OK {
				return "1", true
			}
			return "0", true
		},
	},
}

// WriteMetrics writes ms in the Prometheus text exposition format for the
// node_exporter textfile collector: for each family a HELP and TYPE line,
// then one gauge per resource and store, sorted by resource and store. The
// file is written to a temporary file in the same directory, synced and
// renamed over path, so the collector never reads a partial file; it is
// readable by everyone (0644). Two metrics for the same resource and store
// are an error.
func WriteMetrics(path string, ms []Metric) error {
	return WriteMetricsWithDrills(path, ms, nil)
}

// WriteMetricsWithDrills is WriteMetrics followed by the restore drill
// families of drills (see DrillMetric).
func WriteMetricsWithDrills(path string, ms []Metric, drills []DrillMetric) error {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Metric) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Store, b.Store))
	})
	for i := 1; i < len(ms); i++ {
		if ms[i].Resource == ms[i-1].Resource && ms[i].Store == ms[i-1].Store {
			return fmt.Errorf("write metrics: resource %q in store %q listed twice", ms[i].Resource, ms[i].Store)
		}
	}
	var buf bytes.Buffer
	for _, f := range metricFamilies {
		fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s gauge\n", f.name, f.help, f.name)
		for _, m := range ms {
			if v, ok := f.value(m); ok {
				fmt.Fprintf(&buf, "%s{resource=\"%s\",store=\"%s\"} %s\n", f.name, escapeLabel(m.Resource), escapeLabel(m.Store), v)
			}
		}
	}
	if err := writeDrillFamilies(&buf, drills); err != nil {
		return err
	}
	if err := files.WriteFileAtomic(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

// escapeLabel escapes a label value as the exposition format requires.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
