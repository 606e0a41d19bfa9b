package retention

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Policy is a retention rule set. Counts are numbers of backups (KeepLast) or
// of buckets (the others); 0 disables a rule and a negative count means
// "unlimited" (one backup per bucket, however many buckets there are).
// A Policy with no keep rule at all (every count and KeepWithin zero) keeps
// every backup, so that a policy consisting only of MaxAge means "delete
// backups older than MaxAge" and the zero Policy deletes nothing.
type Policy struct {
	KeepLast    int
	KeepHourly  int
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	KeepYearly  int
	// KeepWithin keeps every backup younger than now-KeepWithin.
	KeepWithin time.Duration
	// MaxAge removes backups older than now-MaxAge even when a keep rule
	// keeps them; the newest backup is kept regardless. A removed backup's
	// Why names MaxAge only when a rule would have kept it.
	MaxAge time.Duration
}

// hasKeepRule reports whether any rule that keeps backups is set.
func (p Policy) hasKeepRule() bool {
	return p.KeepLast != 0 || p.KeepHourly != 0 || p.KeepDaily != 0 || p.KeepWeekly != 0 ||
		p.KeepMonthly != 0 || p.KeepYearly != 0 || p.KeepWithin != 0
}

// Decision is the verdict on one backup.
type Decision struct {
	// Time is the backup's time as passed to Apply.
	Time time.Time
	Keep bool
	// Reasons lists every rule that keeps the backup, in rule order: "last
	// 2/3", "hourly 1/24", "daily 2/7", "weekly 1/4", "monthly 3/12",
	// "yearly 1/2" (a slot number and the rule's count, "∞" for unlimited),
	// "within 30d", "no keep rules", and "newest". A removed backup can have
	// reasons too when MaxAge overrides them.
	Reasons []string
	// Why says why a backup is removed: "not kept by any rule" or "older
	// than max_age 90d". Empty for kept backups.
	Why string
}

// bucketRule is one of the bucketed keep rules.
type bucketRule struct {
	name  string
	count int
	key   func(time.Time) string
}

// Apply decides for backups, given as the times of a resource's COMPLETE
// backups in one store (any order, duplicates allowed), which ones policy p
// keeps as of now. It returns one Decision per input time, sorted newest
// first (equal times keep their input order).
//
// The rules, each applied to the backups newest first:
//   - KeepLast n keeps the n newest backups.
//   - KeepHourly/Daily/Weekly/Monthly/Yearly n keep the newest backup of each
//     of the n most recent hours/days/ISO weeks/months/years that have a
//     backup (restic's and borg's buckets). Buckets are computed in UTC.
//   - KeepWithin d keeps every backup whose time is after now-d.
//   - MaxAge d removes every backup whose time is before now-d, whatever
//     the rules above say.
//   - The newest backup is always kept ("newest"), even past MaxAge.
//
// Older backups still occupy bucket slots when MaxAge removes them, so MaxAge
// never makes a rule reach further into the past.
func Apply(p Policy, times []time.Time, now time.Time) []Decision {
	ds := make([]Decision, len(times))
	for i, t := range times {
		ds[i] = Decision{Time: t}
	}
	slices.SortStableFunc(ds, func(a, b Decision) int { return b.Time.Compare(a.Time) })
	if len(ds) == 0 {
		return ds
	}

	if p.KeepLast != 0 {
		for i := range ds {
			if p.KeepLast > 0 && i >= p.KeepLast {
				break
			}
			ds[i].Reasons = append(ds[i].Reasons, "last "+slot(i+1, p.KeepLast))
		}
	}

	rules := []bucketRule{
		{"hourly", p.KeepHourly, func(t time.Time) string { return t.Format("2006-01-02T15") }},
		{"daily", p.KeepDaily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", p.KeepWeekly, func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{"monthly", p.KeepMonthly, func(t time.Time) string { return t.Format("2006-01") }},
		{"yearly", p.KeepYearly, func(t time.Time) string { return t.Format("2006") }},
	}
	for _, r := range rules {
		if r.count == 0 {
			continue
		}
		used, last := 0, ""
		for i := range ds {
			if r.count > 0 && used >= r.count {
				break
			}
			k := r.key(ds[i].Time.UTC())
			if used > 0 && k == last {
				continue
			}
			used, last = used+1, k
			ds[i].Reasons = append(ds[i].Reasons, r.name+" "+slot(used, r.count))
		}
	}

	if p.KeepWithin > 0 {
		cut := now.Add(-p.KeepWithin)
		for i := range ds {
			if ds[i].Time.After(cut) {
				ds[i].Reasons = append(ds[i].Reasons, "within "+FormatDuration(p.KeepWithin))
			}
		}
	}

	if !p.hasKeepRule() {
		for i := range ds {
			ds[i].Reasons = append(ds[i].Reasons, "no keep rules")
		}
	}

	for i := range ds {
		ds[i].Keep = len(ds[i].Reasons) > 0
		if !ds[i].Keep {
			ds[i].Why = "not kept by any rule"
		}
	}

	if p.MaxAge > 0 {
		cut := now.Add(-p.MaxAge)
		for i := range ds {
			if ds[i].Keep && ds[i].Time.Before(cut) {
				ds[i].Keep = false
				ds[i].Why = "older than max_age " + FormatDuration(p.MaxAge)
			}
		}
	}

	ds[0].Keep, ds[0].Why = true, ""
	ds[0].Reasons = append(ds[0].Reasons, "newest")
	return ds
}

// slot formats the n-th slot of a rule with count slots: "2/7", or "2/∞" for
// an unlimited rule.
func slot(n, count int) string {
	if count < 0 {
		return strconv.Itoa(n) + "/∞"
	}
	return strconv.Itoa(n) + "/" + strconv.Itoa(count)
}

// FormatDuration formats d the way planb's configuration spells durations:
// whole days as "7d", otherwise the largest whole unit ("36h", "90m"), and
// Go's notation for anything finer ("1h30m0.5s").
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
