package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// Drill restores one archive of a resource into a scratch database and a
// scratch folder, compares what came back with the archive's manifest,
// removes the scratch objects and records the result in the archive's
// store.
const Drill ActionType = "drill"

// DrillRecordName is the record (records/<kind>/<name>/drill.json) in which
// a drill leaves its evidence, in the store it read the archive from.
const DrillRecordName = "drill.json"

// DrillRecordVersion is the format of DrillRecord. Fields are only ever
// added.
const DrillRecordVersion = 1

// Results of a drill.
const (
	DrillOK     = "ok"
	DrillFailed = "failed"
)

// DrillAction says which archive a drill action restores and why.
type DrillAction struct {
	// Name is the drill block's label.
	Name string `json:"name"`
	// Number counts the drills of the resource: 1 for its first.
	Number int `json:"number"`
	// ArchiveTime is the time in the archive's name.
	ArchiveTime time.Time `json:"archive_time"`
	// Database names the configured database on whose server the scratch
	// database is created; "" when the archive holds no database dump.
	Database string `json:"database,omitempty"`
	// Candidates is how many archives the drill chose among, Choice says
	// which one it took.
	Candidates int    `json:"candidates"`
	Choice     string `json:"choice"`
}

// DrillSummary is one drill as plans, list and the history of a record
// show it.
type DrillSummary struct {
	// Time is the time of the plan the drill was made from (what schedules
	// compare, as the times in archive names are).
	Time    time.Time `json:"time"`
	Store   string    `json:"store"`
	Archive string    `json:"archive"`
	// Result is DrillOK or DrillFailed.
	Result          string   `json:"result"`
	DurationSeconds float64  `json:"duration_seconds"`
	Problems        []string `json:"problems,omitempty"`
}

// DrillRecord is the evidence of a resource's last drill: what was
// restored from where, what was checked, how long it took and what
// differed.
type DrillRecord struct {
	FormatVersion int    `json:"format_version"`
	Resource      string `json:"resource"`
	Drill         string `json:"drill"`
	Number        int    `json:"number"`
	DrillSummary
	ArchiveTime  time.Time `json:"archive_time"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Host         string    `json:"host,omitempty"`
	PID          int       `json:"pid,omitempty"`
	PlanbVersion string    `json:"planb_version,omitempty"`
	// Durations are the seconds each part of the drill took.
	Durations DrillDurations `json:"durations"`
	Checks    []DrillCheck   `json:"checks"`
	// LastSuccess is the time (as Time) of the newest drill of the
	// resource in this store that succeeded: this one, or an earlier one.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// History holds the earlier drills recorded in this store, newest
	// first, at most MaxDrillHistory.
	History []DrillSummary `json:"history,omitempty"`
}

// MaxDrillHistory bounds the earlier drills a record keeps.
const MaxDrillHistory = 20

// DrillDurations are the seconds the parts of a drill took.
type DrillDurations struct {
	Verify  float64 `json:"verify"`
	Restore float64 `json:"restore"` // create the scratch database, restore, count, compare, drop
	Extract float64 `json:"extract"`
	Total   float64 `json:"total"`
}

// DrillCheck is one thing a drill checked.
type DrillCheck struct {
	// Check names it: "verify", "schema <name>", "database <name>",
	// "delivery/", "files/".
	Check  string `json:"check"`
	Result string `json:"result"`
	// Entries counts the archive's entries (verify).
	Entries  int      `json:"entries,omitempty"`
	Tables   int      `json:"tables,omitempty"`
	Rows     int64    `json:"rows,omitempty"`
	Files    int      `json:"files,omitempty"`
	Symlinks int      `json:"symlinks,omitempty"`
	Bytes    int64    `json:"bytes,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// DrillStatus is where a drilled resource stands.
type DrillStatus string

const (
	// DrillDue: the plan drills the resource.
	DrillDue DrillStatus = "due"
	// DrillUpToDate: the last drill succeeded and is younger than every.
	DrillUpToDate DrillStatus = "up to date"
	// DrillNoArchive: a drill is due, but no store holds an archive it
	// may take.
	DrillNoArchive DrillStatus = "no archive"
)

// DrillState is a drilled resource as the plan found it.
type DrillState struct {
	Resource string      `json:"resource"`
	Drill    string      `json:"drill"`
	Status   DrillStatus `json:"status"`
	Reason   string      `json:"reason"`
	// Last is the newest drill the stores recorded, nil when none.
	Last *DrillSummary `json:"last,omitempty"`
	// LastSuccess is when the newest drill that succeeded was made.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Number is how many drills of the resource were made.
	Number int `json:"number,omitempty"`
}

// planDrills adds the drills that are due for the planned resources, after
// their backups, copies and prunes are planned: a drill never takes an
// archive a prune of the plan deletes, and drills the new backup when no
// store holds an archive yet. drills holds the newest record of each
// resource's drills, by address.
func planDrills(p *Plan, cfg *config.Config, resources []*config.Resource, folders map[folderKey][]catalog.Archive, damaged map[string]map[string]Damage, drills map[string]*DrillRecord) {
	for _, r := range resources {
		d := cfg.DrillOf(r.Address)
		if d == nil {
			continue
		}
		st := DrillState{Resource: r.Address, Drill: d.Name}
		last := drills[r.Address]
		number := 1
		if last != nil {
			s := last.DrillSummary
			st.Last, st.LastSuccess, st.Number = &s, last.LastSuccess, last.Number
			number = last.Number + 1
		}
		due, reason := drillDue(last, d.Every, p.Now)
		st.Status, st.Reason = DrillUpToDate, reason
		if !due {
			p.Drills = append(p.Drills, st)
			continue
		}
		a, why := drillAction(p, r, d, folders, damaged, number)
		if a == nil {
			st.Status, st.Reason = DrillNoArchive, reason+"; "+why
			p.Drills = append(p.Drills, st)
			continue
		}
		a.Reason = reason
		p.Actions = append(p.Actions, a)
		st.Status = DrillDue
		p.Drills = append(p.Drills, st)
	}
}

// drillDue reports whether a resource whose last drill is last must be
// drilled, and why.
func drillDue(last *DrillRecord, every time.Duration, now time.Time) (bool, string) {
	if last == nil {
		return true, "no drill yet"
	}
	if last.Time.After(now.Add(FutureSkew)) {
		// Made from a plan dated ahead (--now, a wrong clock): it does not
		// hold drills off until then.
		return true, fmt.Sprintf("the last drill is dated %s after now", FormatDuration(last.Time.Sub(now)))
	}
	age := now.Sub(last.Time)
	ago := DrillAge(last.Time, now)
	if last.Result != DrillOK {
		why := ""
		if len(last.Problems) > 0 {
			why = ": " + last.Problems[0]
		}
		return true, fmt.Sprintf("the last drill (%s) failed%s", ago, why)
	}
	return age >= every, fmt.Sprintf("last drill %s, every %s", ago, FormatDuration(every))
}

// drillCandidate is an archive a drill may take, in the first store (in
// the resource's order) that holds it.
type drillCandidate struct {
	store   string
	archive catalog.Archive
}

// drillAction chooses the archive a drill restores and makes its action;
// nil and why when there is none. The candidates are the complete archives
// of the resource in its stores, in the window (by default only the
// newest), that are neither safety backups nor dated in the future nor
// known to be damaged nor deleted by this plan; an archive several stores
// hold is taken from the first of them. They are ordered newest first and
// the drill numbered n takes the ((n-1) mod count)th, so that successive
// drills go through the window. When no store holds a candidate, the
// drill takes the archive this plan's backup of the resource writes.
func drillAction(p *Plan, r *config.Resource, d *config.Drill, folders map[folderKey][]catalog.Archive, damaged map[string]map[string]Damage, n int) (*Action, string) {
	deleted := map[string]bool{}
	var backup *Action
	for _, a := range p.Actions {
		if a.Resource != r.Address {
			continue
		}
		switch a.Type {
		case Prune, Clean:
			for _, del := range a.Delete {
				deleted[a.Store+"\x00"+del.Archive] = true
			}
		case Backup:
			backup = a
		}
	}
	ref := RefOf(r)
	seen := map[string]bool{}
	var cands []drillCandidate
	var storeNames []string
	for _, s := range r.Stores {
		storeNames = append(storeNames, "store."+s.Name)
		for _, a := range folders[folderKey{s.Name, ref}] {
			_, isDamaged := damaged[s.Name][a.Key()]
			switch {
			case a.Partial, a.Safety, Future(a, p.Now), isDamaged, deleted[s.Name+"\x00"+a.Name], seen[a.Name]:
				continue
			case d.Window > 0 && a.Time.Before(p.Now.Add(-d.Window)):
				continue
			}
			seen[a.Name] = true
			cands = append(cands, drillCandidate{store: s.Name, archive: a})
		}
	}
	// Newest first; equal times keep the stores' order.
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].archive.Time.After(cands[j].archive.Time) })
	if d.Window == 0 && len(cands) > 1 {
		cands = cands[:1]
	}
	a := &Action{
		Type:     Drill,
		Resource: r.Address,
		Drill:    &DrillAction{Name: d.Name, Number: n},
	}
	if db := d.Database; db != nil {
		a.Drill.Database = db.Name
	} else if r.Database != nil {
		a.Drill.Database = r.Database.Name
	}
	switch {
	case len(cands) > 0:
		i := (n - 1) % len(cands)
		c := cands[i]
		a.Store, a.Archive, a.Drill.ArchiveTime = c.store, c.archive.Name, c.archive.Time
		a.Drill.Candidates = len(cands)
		a.Drill.Choice = drillChoice(i, len(cands), d.Window)
	case backup != nil:
		a.Store, a.Archive, a.Drill.ArchiveTime = backup.Store, backup.Archive, p.Now
		a.Drill.Candidates = 1
		a.Drill.Choice = "the new backup: no store holds an archive to drill yet"
		a.DependsOn = []string{backup.ID}
	default:
		where := "in " + strings.Join(storeNames, ", ")
		if d.Window > 0 {
			where = "of the last " + FormatDuration(d.Window) + " " + where
		}
		return nil, "no archive to drill " + where
	}
	a.ID = actionID(Drill, r.Address, a.Store)
	return a, ""
}

// drillChoice says which of count candidates (newest first) index i is.
func drillChoice(i, count int, window time.Duration) string {
	if window == 0 {
		return "the newest archive"
	}
	which := "the newest"
	if i > 0 {
		which = "the " + ordinal(i+1) + " newest"
	}
	return fmt.Sprintf("%s of %d archive(s) of the last %s", which, count, FormatDuration(window))
}

// ordinal spells n as "2nd", "3rd", "11th", "21st".
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// DrillStateOf returns the drill state of a resource, or nil.
func (p *Plan) DrillStateOf(addr string) *DrillState {
	for i := range p.Drills {
		if p.Drills[i].Resource == addr {
			return &p.Drills[i]
		}
	}
	return nil
}
