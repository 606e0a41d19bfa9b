package retention

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// at parses "2006-01-02 15:04" in UTC.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return v
}

// render prints a decision as "2026-11-25 20:30 keep last 1/2, newest" or
// "2026-11-20 20:30 drop not kept by any rule".
func render(d Decision) string {
	ts := d.Time.UTC().Format("2006-01-02 15:04")
	if d.Keep {
		return ts + " keep " + strings.Join(d.Reasons, ", ")
	}
	return ts + " drop " + d.Why
}

func TestApply(t *testing.T) {
	daily := []string{ // one backup a day at 20:30, 2026-11-21 .. 2026-11-25
		"2026-11-21 20:30", "2026-11-25 20:30", "2026-11-23 20:30", "2026-11-22 20:30", "2026-11-24 20:30",
	}
	tests := map[string]struct {
		policy Policy
		times  []string
		now    string
		want   []string
	}{
		"keep_last 2 of five leaves the two newest": {
			policy: Policy{KeepLast: 2},
			times:  daily,
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep last 1/2, newest",
				"2026-11-24 20:30 keep last 2/2",
				"2026-11-23 20:30 drop not kept by any rule",
				"2026-11-22 20:30 drop not kept by any rule",
				"2026-11-21 20:30 drop not kept by any rule",
			},
		},
		"no backups": {
			policy: Policy{KeepLast: 2},
			now:    "2026-11-26 00:00",
			want:   nil,
		},
		"zero policy keeps everything": {
			times: []string{"2026-11-25 20:30", "2020-01-01 00:00"},
			now:   "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep no keep rules, newest",
				"2020-01-01 00:00 keep no keep rules",
			},
		},
		"max_age alone deletes old backups (CAST's delete older than N days)": {
			policy: Policy{MaxAge: 3 * 24 * time.Hour},
			times:  daily,
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep no keep rules, newest",
				"2026-11-24 20:30 keep no keep rules",
				"2026-11-23 20:30 keep no keep rules",
				"2026-11-22 20:30 drop older than max_age 3d",
				"2026-11-21 20:30 drop older than max_age 3d",
			},
		},
		"newest is kept even past max_age": {
			policy: Policy{KeepLast: 3, MaxAge: 24 * time.Hour},
			times:  daily,
			now:    "2026-12-31 00:00",
			want: []string{
				"2026-11-25 20:30 keep last 1/3, newest",
				"2026-11-24 20:30 drop older than max_age 1d",
				"2026-11-23 20:30 drop older than max_age 1d",
				"2026-11-22 20:30 drop not kept by any rule",
				"2026-11-21 20:30 drop not kept by any rule",
			},
		},
		"newest is kept when no rule keeps it": {
			policy: Policy{KeepWithin: time.Hour},
			times:  []string{"2026-11-20 10:00", "2026-11-21 10:00"},
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-21 10:00 keep newest",
				"2026-11-20 10:00 drop not kept by any rule",
			},
		},
		"hourly keeps the newest of each hour": {
			policy: Policy{KeepHourly: 2},
			times:  []string{"2026-11-25 10:05", "2026-11-25 10:55", "2026-11-25 11:10", "2026-11-25 11:40", "2026-11-25 09:59"},
			now:    "2026-11-25 12:00",
			want: []string{
				"2026-11-25 11:40 keep hourly 1/2, newest",
				"2026-11-25 11:10 drop not kept by any rule",
				"2026-11-25 10:55 keep hourly 2/2",
				"2026-11-25 10:05 drop not kept by any rule",
				"2026-11-25 09:59 drop not kept by any rule",
			},
		},
		"daily counts days that have a backup, skipping gaps": {
			policy: Policy{KeepDaily: 3},
			times:  []string{"2026-11-25 20:30", "2026-11-25 08:00", "2026-11-20 20:30", "2026-11-18 20:30", "2026-11-10 20:30"},
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep daily 1/3, newest",
				"2026-11-25 08:00 drop not kept by any rule",
				"2026-11-20 20:30 keep daily 2/3",
				"2026-11-18 20:30 keep daily 3/3",
				"2026-11-10 20:30 drop not kept by any rule",
			},
		},
		"daily buckets are UTC days": {
			policy: Policy{KeepDaily: 2},
			// 23:30 and 00:30 next day in UTC+2 are the same local day but
			// different UTC days; 01:30 and 02:30 UTC+2 are the same UTC day.
			times: []string{"2026-11-25 21:30", "2026-11-25 22:30", "2026-11-25 23:30", "2026-11-26 00:30"},
			now:   "2026-11-26 12:00",
			want: []string{
				"2026-11-26 00:30 keep daily 1/2, newest",
				"2026-11-25 23:30 keep daily 2/2",
				"2026-11-25 22:30 drop not kept by any rule",
				"2026-11-25 21:30 drop not kept by any rule",
			},
		},
		"weekly uses ISO weeks": {
			policy: Policy{KeepWeekly: 2},
			// 2026-11-23 is a Monday; 2026-11-22 (Sunday) is in the week before.
			times: []string{"2026-11-23 01:00", "2026-11-22 23:00", "2026-11-16 00:00", "2026-11-15 23:59"},
			now:   "2026-11-26 00:00",
			want: []string{
				"2026-11-23 01:00 keep weekly 1/2, newest",
				"2026-11-22 23:00 keep weekly 2/2",
				"2026-11-16 00:00 drop not kept by any rule",
				"2026-11-15 23:59 drop not kept by any rule",
			},
		},
		"weekly across a year boundary": {
			policy: Policy{KeepWeekly: 3},
			// 2026-12-31 (Thu) and 2027-01-01 (Fri) are both in ISO week 2026-W53.
			times: []string{"2027-01-01 10:00", "2026-12-31 10:00", "2026-12-27 10:00", "2026-12-20 10:00"},
			now:   "2027-01-02 00:00",
			want: []string{
				"2027-01-01 10:00 keep weekly 1/3, newest",
				"2026-12-31 10:00 drop not kept by any rule",
				"2026-12-27 10:00 keep weekly 2/3",
				"2026-12-20 10:00 keep weekly 3/3",
			},
		},
		"monthly and yearly": {
			policy: Policy{KeepMonthly: 2, KeepYearly: 3},
			times:  []string{"2026-11-25 00:00", "2026-11-01 00:00", "2026-10-31 00:00", "2026-01-01 00:00", "2025-12-31 00:00", "2024-06-01 00:00", "2023-06-01 00:00"},
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 00:00 keep monthly 1/2, yearly 1/3, newest",
				"2026-11-01 00:00 drop not kept by any rule",
				"2026-10-31 00:00 keep monthly 2/2",
				"2026-01-01 00:00 drop not kept by any rule",
				"2025-12-31 00:00 keep yearly 2/3",
				"2024-06-01 00:00 keep yearly 3/3",
				"2023-06-01 00:00 drop not kept by any rule",
			},
		},
		"unlimited yearly": {
			policy: Policy{KeepLast: 1, KeepYearly: -1},
			times:  []string{"2026-11-25 00:00", "2026-03-01 00:00", "2020-06-01 00:00", "2010-06-01 00:00"},
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 00:00 keep last 1/1, yearly 1/∞, newest",
				"2026-03-01 00:00 drop not kept by any rule",
				"2020-06-01 00:00 keep yearly 2/∞",
				"2010-06-01 00:00 keep yearly 3/∞",
			},
		},
		"keep_within is relative to now": {
			policy: Policy{KeepWithin: 30 * 24 * time.Hour},
			times:  []string{"2026-11-25 00:00", "2026-10-27 00:01", "2026-10-26 23:59"},
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 00:00 keep within 30d, newest",
				"2026-10-27 00:01 keep within 30d",
				"2026-10-26 23:59 drop not kept by any rule",
			},
		},
		"combination as in the spec's standard retention": {
			policy: Policy{KeepLast: 3, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12},
			times: []string{
				"2026-11-25 20:30", "2026-11-25 08:30", "2026-11-24 20:30", "2026-11-20 20:30",
				"2026-11-09 20:30", "2026-11-08 20:30", "2026-10-15 20:30", "2026-10-01 20:30", "2025-10-01 20:30",
			},
			now: "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep last 1/3, daily 1/7, weekly 1/4, monthly 1/12, newest",
				"2026-11-25 08:30 keep last 2/3",
				"2026-11-24 20:30 keep last 3/3, daily 2/7",
				"2026-11-20 20:30 keep daily 3/7, weekly 2/4",
				"2026-11-09 20:30 keep daily 4/7, weekly 3/4",
				"2026-11-08 20:30 keep daily 5/7, weekly 4/4",
				"2026-10-15 20:30 keep daily 6/7, monthly 2/12",
				"2026-10-01 20:30 keep daily 7/7",
				"2025-10-01 20:30 keep monthly 3/12",
			},
		},
		"max_age overrides bucket rules": {
			policy: Policy{KeepDaily: 7, MaxAge: 48 * time.Hour},
			times:  daily,
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep daily 1/7, newest",
				"2026-11-24 20:30 keep daily 2/7",
				"2026-11-23 20:30 drop older than max_age 2d",
				"2026-11-22 20:30 drop older than max_age 2d",
				"2026-11-21 20:30 drop older than max_age 2d",
			},
		},
		"duplicate times": {
			policy: Policy{KeepDaily: 1},
			times:  []string{"2026-11-25 20:30", "2026-11-25 20:30"},
			now:    "2026-11-26 00:00",
			want: []string{
				"2026-11-25 20:30 keep daily 1/1, newest",
				"2026-11-25 20:30 drop not kept by any rule",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var times []time.Time
			for _, s := range tc.times {
				times = append(times, at(t, s))
			}
			ds := Apply(tc.policy, times, at(t, tc.now))
			var got []string
			for _, d := range ds {
				got = append(got, render(d))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Apply:\ngot\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			for _, d := range ds {
				if d.Keep != (d.Why == "") {
					t.Errorf("%s: Keep=%v but Why=%q", d.Time, d.Keep, d.Why)
				}
			}
		})
	}
}

func TestApplyNonUTCInput(t *testing.T) {
	// 2026-11-26 00:30 in UTC+2 is 2026-11-25 22:30 UTC: the same UTC day as
	// the 2026-11-25 20:30 UTC backup, so keep_daily 1 keeps only the newer.
	plus2 := time.FixedZone("UTC+2", 2*3600)
	newer := time.Date(2026, 11, 26, 0, 30, 0, 0, plus2)
	older := time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)
	ds := Apply(Policy{KeepDaily: 2}, []time.Time{older, newer}, newer)
	if !ds[0].Time.Equal(newer) || !ds[0].Keep {
		t.Fatalf("newest: %+v", ds[0])
	}
	if ds[1].Keep {
		t.Errorf("older backup on the same UTC day kept: %+v", ds[1])
	}
	if ds[0].Time.Location() != plus2 {
		t.Errorf("Decision.Time changed location: %v", ds[0].Time.Location())
	}
}

func TestApplyNeverRemovesNewest(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	policies := []Policy{
		{}, {KeepLast: 1}, {MaxAge: time.Nanosecond}, {KeepWithin: time.Nanosecond, MaxAge: time.Nanosecond},
		{KeepHourly: 1, KeepDaily: 1, KeepWeekly: 1, KeepMonthly: 1, KeepYearly: 1, MaxAge: time.Hour},
	}
	for n := 1; n <= 40; n += 13 {
		var times []time.Time
		for i := range n {
			times = append(times, base.Add(time.Duration(i*37)*time.Hour))
		}
		for _, p := range policies {
			ds := Apply(p, times, base.AddDate(5, 0, 0))
			if len(ds) != n {
				t.Fatalf("%+v: %d decisions for %d backups", p, len(ds), n)
			}
			if !ds[0].Keep || !ds[0].Time.Equal(times[n-1]) {
				t.Errorf("%+v with %d backups: newest not kept: %+v", p, n, ds[0])
			}
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[string]struct {
		d    time.Duration
		want string
	}{
		"zero":    {0, "0s"},
		"days":    {90 * 24 * time.Hour, "90d"},
		"hours":   {36 * time.Hour, "36h"},
		"minutes": {90 * time.Minute, "90m"},
		"seconds": {61 * time.Second, "61s"},
		"mixed":   {time.Hour + 500*time.Millisecond, "1h0m0.5s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := FormatDuration(tc.d); got != tc.want {
				t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func ExampleApply() {
	var times []time.Time
	for day := 21; day <= 25; day++ {
		times = append(times, time.Date(2026, 11, day, 20, 30, 0, 0, time.UTC))
	}
	for _, d := range Apply(Policy{KeepLast: 2}, times, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		if d.Keep {
			fmt.Println(d.Time.Format(time.DateOnly), "keep:", strings.Join(d.Reasons, ", "))
		} else {
			fmt.Println(d.Time.Format(time.DateOnly), "remove:", d.Why)
		}
	}
	// Output:
	// 2026-11-25 keep: last 1/2, newest
	// 2026-11-24 keep: last 2/2
	// 2026-11-23 remove: not kept by any rule
	// 2026-11-22 remove: not kept by any rule
	// 2026-11-21 remove: not kept by any rule
}
