package facts

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"sync"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// DrillRecords reads the drill records of the drilled resources among
// resources, from each of their stores that has (when has is not nil)
// archives of them: by address, one record per store that holds one. A
// record that does not parse, or that an encrypted store cannot open
// without its identity, is logged and left out: the next drill replaces
// it.
func (e *Estate) DrillRecords(ctx context.Context, resources []*config.Resource, has func(storeName string, ref catalog.Ref) bool) (map[string][]*plan.DrillRecord, error) {
	type job struct {
		addr string
		st   store.Store
		ref  catalog.Ref
	}
	var jobs []job
	for _, r := range resources {
		if e.Config.DrillOf(r.Address) == nil {
			continue
		}
		ref := plan.RefOf(r)
		for _, s := range r.Stores {
			st, ok := e.Stores[s.Name]
			if !ok || (has != nil && !has(s.Name, ref)) {
				continue
			}
			jobs = append(jobs, job{r.Address, st, ref})
		}
	}
	var (
		mu   sync.Mutex
		out  = map[string][]*plan.DrillRecord{}
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, storeReaders)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := j.st.ReadRecord(ctx, j.ref, plan.DrillRecordName)
			if errors.Is(err, fs.ErrNotExist) {
				return
			}
			if IsKeyError(err) {
				e.logger().Warn("the drill record of an encrypted store cannot be read without its identity: its drills count as never made here", "store", j.st.Name(), "record", j.ref.Key(plan.DrillRecordName))
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err) // the store names itself and the record
				return
			}
			var rec plan.DrillRecord
			if err := json.Unmarshal(data, &rec); err != nil {
				e.logger().Warn("ignoring a drill record that does not parse", "store", j.st.Name(), "record", j.ref.Key(plan.DrillRecordName), "err", err)
				return
			}
			out[j.addr] = append(out[j.addr], &rec)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// NewestDrills picks, per resource, the newest of its records: the one
// made from the latest plan, then the one that finished last.
func NewestDrills(records map[string][]*plan.DrillRecord) map[string]*plan.DrillRecord {
	out := make(map[string]*plan.DrillRecord, len(records))
	for addr, recs := range records {
		for _, r := range recs {
			cur := out[addr]
			if cur == nil || r.Time.After(cur.Time) || (r.Time.Equal(cur.Time) && r.Finished.After(cur.Finished)) {
				out[addr] = r
			}
		}
	}
	return out
}

// Drills reads what plans need to know of drills: the newest record of
// each drilled resource, from the stores whose catalog holds its archives.
func (e *Estate) Drills(ctx context.Context, cat plan.Catalog, resources []*config.Resource) (map[string]*plan.DrillRecord, error) {
	if len(e.Config.Drills) == 0 {
		return nil, nil
	}
	held := map[string]map[catalog.Ref]bool{}
	for name, archives := range cat {
		for _, a := range archives {
			if a.Partial {
				continue
			}
			if held[name] == nil {
				held[name] = map[catalog.Ref]bool{}
			}
			held[name][a.Ref] = true
		}
	}
	records, err := e.DrillRecords(ctx, resources, func(s string, ref catalog.Ref) bool { return held[s][ref] })
	if err != nil {
		return nil, err
	}
	return NewestDrills(records), nil
}

// DrillRow is one drilled resource as `planb list` shows it.
type DrillRow struct {
	Resource string `json:"resource"`
	Drill    string `json:"drill"`
	// The last drill; absent (and Result "never") when there was none.
	Time            time.Time `json:"time,omitzero"`
	Store           string    `json:"store,omitempty"`
	Archive         string    `json:"archive,omitempty"`
	Result          string    `json:"result"`
	DurationSeconds float64   `json:"duration_seconds,omitempty"`
	Problems        []string  `json:"problems,omitempty"`
	LastSuccess     time.Time `json:"last_success,omitzero"`
	Number          int       `json:"number,omitempty"`
}

// DrillNever is the Result of a DrillRow of a resource never drilled.
const DrillNever = "never"

// ListDrills returns the last drill of each drilled resource whose address
// is in addrs (all of them when addrs is nil), sorted by address, read from
// stores (the reachable ones).
func (e *Estate) ListDrills(ctx context.Context, stores map[string]store.Store, addrs map[string]bool) ([]DrillRow, error) {
	if len(e.Config.Drills) == 0 {
		return nil, nil
	}
	var resources []*config.Resource
	for _, r := range e.Config.Resources {
		if e.Config.DrillOf(r.Address) != nil && (addrs == nil || addrs[r.Address]) {
			resources = append(resources, r)
		}
	}
	reading := *e
	reading.Stores = stores
	records, err := reading.DrillRecords(ctx, resources, nil)
	if err != nil {
		return nil, err
	}
	newest := NewestDrills(records)
	var out []DrillRow
	for _, r := range resources {
		row := DrillRow{Resource: r.Address, Drill: e.Config.DrillOf(r.Address).Name, Result: DrillNever}
		if rec := newest[r.Address]; rec != nil {
			row.Time, row.Store, row.Archive, row.Result = rec.Time, rec.Store, rec.Archive, rec.Result
			row.DurationSeconds, row.Problems, row.Number = rec.DurationSeconds, rec.Problems, rec.Number
			for _, other := range records[r.Address] {
				if other.LastSuccess.After(row.LastSuccess) {
					row.LastSuccess = other.LastSuccess
				}
			}
		}
		out = append(out, row)
	}
	return out, nil
}
