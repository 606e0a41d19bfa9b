package catalog

import (
	"fmt"
	"time"
)

// PartialAge is how long a partial leftover whose writer the store has no
// record of is kept before a plan cleans it: it must have been unchanged
// (local stores: not written to; S3: its upload started) for that long. A
// partial whose writer is recorded is cleaned as soon as that run no
// longer holds the resource's lock.
const PartialAge = 24 * time.Hour

// Cleanable reports whether partial leftover a may be cleaned (deleted) at
// now, and says whose it is:
//
//   - a partial whose writer still holds the lock (Live) never is: it is
//     work in progress;
//   - one whose writer is recorded and no longer holds the lock is;
//   - one the store has no record of is once unchanged for PartialAge
//     (ModTime: the last write of a local partial, the start of an S3
//     upload).
func Cleanable(a Archive, now time.Time) (bool, string) {
	switch {
	case !a.Partial:
		return false, "not a partial"
	case a.Live:
		return false, "being written by " + describeWriter(a.Writer) + ", which holds the lock"
	case a.Writer.RunID != "":
		return true, "left by " + describeWriter(a.Writer) + ", which no longer holds the lock"
	case a.ModTime.IsZero():
		return false, "left by an unknown run, at an unknown time"
	case now.Sub(a.ModTime) >= PartialAge:
		return true, fmt.Sprintf("left by an unknown run, unchanged since %s (more than %s)",
			a.ModTime.UTC().Format(time.RFC3339), formatHours(PartialAge))
	}
	return false, fmt.Sprintf("left by an unknown run, unchanged since %s: cleaned once %s old",
		a.ModTime.UTC().Format(time.RFC3339), formatHours(PartialAge))
}

// describeWriter returns "pid 4242 on host node-a (run ABC…) since …".
func describeWriter(w LockInfo) string {
	s := fmt.Sprintf("pid %d on host %s", w.PID, w.Host)
	if w.PIDNamespace != "" {
		s += " in " + w.PIDNamespace
	}
	s += " (run " + w.RunID
	if w.Owner != "" {
		s += ", user " + w.Owner
	}
	return s + ") since " + w.Time.UTC().Format(time.RFC3339)
}

func formatHours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return d.String()
}
