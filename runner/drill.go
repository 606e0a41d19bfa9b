package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// ReadDrillRecord returns the drill record of a resource folder in a store;
// nil when there is none.
func ReadDrillRecord(ctx context.Context, st store.Store, ref store.Ref) (*plan.DrillRecord, error) {
	var rec plan.DrillRecord
	found, err := store.ReadJSON(ctx, st, ref, plan.DrillRecordName, &rec)
	if !found || err != nil {
		return nil, err
	}
	return &rec, nil
}

// drill builds a drill action: one step, under the lock of the resource in
// the store that holds the archive.
func (b *builder) drill(a *plan.Action, r *config.Resource, st store.Store) error {
	if a.Drill == nil {
		return fmt.Errorf("action %s: the plan does not say which drill it is", a.ID)
	}
	d := b.env.Config.Drill(a.Drill.Name)
	if d == nil {
		return fmt.Errorf("the plan names drill.%s, which the configuration does not declare", a.Drill.Name)
	}
	lockID := b.lockFor(r, st, a.ID)
	b.add(dag.Step{
		ID:    a.ID,
		Label: fmt.Sprintf("drill %s from store.%s", a.Archive, st.Name()),
		Group: Target{r.Address, st.Name()},
		Deps:  b.after(a, lockID),
		Run: func(ctx context.Context, p *dag.Progress) error {
			dr := &drillRun{env: b.env, p: b.p, a: a, r: r, d: d, st: st, ref: plan.RefOf(r), progress: p}
			return dr.run(ctx)
		},
	})
	return nil
}

// drillRun is one drill being made.
type drillRun struct {
	env      *Env
	p        *plan.Plan
	a        *plan.Action
	r        *config.Resource
	d        *config.Drill
	st       store.Store
	ref      store.Ref
	progress *dag.Progress

	rec *plan.DrillRecord
}

// run restores the archive into scratch space, compares it with its
// manifest, removes the scratch space and records what it found in the
// store. A drill that found a problem fails, naming what differed; its
// record says so too. An interrupted drill records nothing.
func (dr *drillRun) run(ctx context.Context) error {
	started := time.Now()
	host, _ := os.Hostname()
	dr.rec = &plan.DrillRecord{
		FormatVersion: plan.DrillRecordVersion,
		Resource:      dr.r.Address,
		Drill:         dr.d.Name,
		Number:        dr.a.Drill.Number,
		DrillSummary:  plan.DrillSummary{Time: dr.p.Now, Store: dr.st.Name(), Archive: dr.a.Archive},
		ArchiveTime:   dr.a.Drill.ArchiveTime,
		Started:       started.UTC().Truncate(time.Millisecond),
		Host:          host,
		PID:           os.Getpid(),
		PlanbVersion:  dr.env.PlanbVersion,
	}
	err := dr.check(ctx)
	if ctx.Err() != nil {
		if err == nil {
			err = context.Cause(ctx)
		}
		return err
	}
	rec := dr.rec
	if err != nil {
		rec.Problems = append(rec.Problems, err.Error())
	}
	for _, c := range rec.Checks {
		for _, pr := range c.Problems {
			rec.Problems = append(rec.Problems, c.Check+": "+pr)
		}
	}
	rec.Result = plan.DrillOK
	if len(rec.Problems) > 0 {
		rec.Result = plan.DrillFailed
	}
	finished := time.Now()
	rec.Finished = finished.UTC().Truncate(time.Millisecond)
	rec.Durations.Total = seconds(finished.Sub(started))
	rec.DurationSeconds = rec.Durations.Total

	failed := error(nil)
	if rec.Result != plan.DrillOK {
		failed = fmt.Errorf("drill of %s from store.%s failed: %s", dr.a.Archive, dr.st.Name(), strings.Join(rec.Problems, "; "))
	}
	if werr := dr.record(ctx); werr != nil {
		werr = fmt.Errorf("record the drill: %w", werr) // the store names itself
		if failed != nil {
			return errors.Join(failed, werr)
		}
		return werr
	}
	return failed
}

// record writes the drill's record into its store, carrying the history
// and the last success of the record it replaces.
func (dr *drillRun) record(ctx context.Context) error {
	rec := dr.rec
	if s := dr.p.DrillStateOf(dr.r.Address); s != nil {
		rec.LastSuccess = s.LastSuccess
	}
	prev, err := ReadDrillRecord(ctx, dr.st, dr.ref)
	if err != nil {
		dr.progress.Logger().Warn("the drill record is unreadable and is replaced", "store", dr.st.Name(), "resource", dr.r.Address, "err", err)
		prev = nil
	}
	if prev != nil {
		rec.History = append([]plan.DrillSummary{prev.DrillSummary}, prev.History...)
		if len(rec.History) > plan.MaxDrillHistory {
			rec.History = rec.History[:plan.MaxDrillHistory]
		}
		if prev.LastSuccess.After(rec.LastSuccess) {
			rec.LastSuccess = prev.LastSuccess
		}
	}
	if rec.Result == plan.DrillOK {
		rec.LastSuccess = rec.Time
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return dr.st.WriteRecord(ctx, dr.ref, plan.DrillRecordName, append(data, '\n'))
}

// check does the drill's work, adding a DrillCheck per part checked. Its
// error is a problem that stopped the drill.
func (dr *drillRun) check(ctx context.Context) error {
	rec := dr.rec
	obj, err := dr.st.Open(ctx, dr.ref, dr.a.Archive)
	if err != nil {
		return fmt.Errorf("open the archive: %w", err)
	}
	defer obj.Close()

	t0 := time.Now()
	tracker := TrackReads(obj)
	rd, err := archive.Open(tracker, obj.Size())
	if err == nil {
		err = VerifyArchive(ctx, rd)
	}
	rec.Durations.Verify = seconds(time.Since(t0))
	if err != nil {
		err = Classify(ctx, dr.st.Name(), dr.ref, dr.a.Archive, tracker, err)
		var d *DamagedError
		if errors.As(err, &d) {
			noteDamage(ctx, dr.env.Logger, dr.st, dr.ref, dr.a.Archive, "drill", d)
		}
		rec.Checks = append(rec.Checks, plan.DrillCheck{Check: "verify", Result: plan.DrillFailed, Problems: []string{err.Error()}})
		return nil
	}
	rec.Checks = append(rec.Checks, plan.DrillCheck{Check: "verify", Result: plan.DrillOK, Entries: len(rd.Entries()), Bytes: obj.Size()})
	dr.progress.Add(obj.Size())

	m, err := rd.Manifest()
	if err != nil && !errors.Is(err, archive.ErrNoManifest) {
		return err
	}
	t1 := time.Now()
	err = dr.restore(ctx, rd, m)
	rec.Durations.Restore = seconds(time.Since(t1))
	if err != nil {
		return err
	}
	t2 := time.Now()
	err = dr.extract(ctx, rd, m)
	rec.Durations.Extract = seconds(time.Since(t2))
	return err
}

// restore restores the archive's schema dumps together into one scratch
// database, and each whole-database dump into one of its own, and compares
// what came back with the manifest.
func (dr *drillRun) restore(ctx context.Context, rd *archive.Reader, m *archive.Manifest) error {
	schemas := dumpsOf(rd, m)
	databases := databaseDumpsOf(rd, m)
	if len(schemas) == 0 && len(databases) == 0 {
		return nil
	}
	db := dr.d.Database
	if db == nil {
		db = dr.r.Database
	}
	if db == nil {
		return errors.New("the archive holds database dumps, but neither the drill nor the resource names a database to restore them on")
	}
	cc := ConnConfig(db, "")
	if len(schemas) > 0 {
		checks, err := deepCheckIn(ctx, rd, cc, schemas, "planb_drill")
		for _, c := range checks {
			dc := plan.DrillCheck{Check: "schema " + c.Schema, Result: plan.DrillOK, Tables: c.Tables, Rows: c.Rows, Problems: c.Problems}
			if len(c.Problems) > 0 {
				dc.Result = plan.DrillFailed
			}
			dr.rec.Checks = append(dr.rec.Checks, dc)
		}
		if err != nil {
			return fmt.Errorf("restore the schemas into a scratch database on %s:%d: %w", db.Host, db.Port, err)
		}
	}
	for _, info := range databases {
		c, err := restoreDatabaseCheck(ctx, rd, cc, info)
		if err != nil {
			return fmt.Errorf("restore database %s into a scratch database on %s:%d: %w", info.Name, db.Host, db.Port, err)
		}
		dr.rec.Checks = append(dr.rec.Checks, c)
	}
	return nil
}

// databaseDumpsOf lists the whole-database dumps of an archive: from its
// manifest, or by entry name for archives without one.
func databaseDumpsOf(rd *archive.Reader, m *archive.Manifest) []archive.SchemaInfo {
	var out []archive.SchemaInfo
	if m != nil {
		for _, s := range m.Schemas {
			if s.Role == "database" {
				out = append(out, s)
			}
		}
		return out
	}
	for _, e := range rd.Entries() {
		if name, ok := strings.CutPrefix(e.Name, "databases/"); ok && strings.HasSuffix(name, ".cssbackup") {
			out = append(out, archive.SchemaInfo{Role: "database", Name: strings.TrimSuffix(name, ".cssbackup"), Entry: e.Name, Tables: -1})
		}
	}
	return out
}

// restoreDatabaseCheck restores a whole-database dump into a scratch
// database created for it and dropped afterwards, and compares its tables
// with the manifest: as many as it recorded, and rows when it estimated
// some. Tables -1 (no manifest) only counts.
func restoreDatabaseCheck(ctx context.Context, rd *archive.Reader, cc postgres.ConnConfig, info archive.SchemaInfo) (c plan.DrillCheck, err error) {
	c = plan.DrillCheck{Check: "database " + info.Name, Result: plan.DrillOK}
	scratch, drop, err := postgres.CreateScratchDatabase(ctx, cc, "planb_drill")
	if err != nil {
		return c, err
	}
	defer func() { err = errors.Join(err, drop(context.WithoutCancel(ctx))) }()
	sc := cc.WithDB(scratch)
	rc, err := rd.OpenEntry(info.Entry)
	if err != nil {
		return c, err
	}
	err = postgres.Restore(ctx, sc, postgres.RestoreOptions{NoOwner: true}, rc)
	rc.Close()
	if err != nil {
		return c, err
	}
	conn, err := postgres.Connect(ctx, sc)
	if err != nil {
		return c, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname <> 'information_schema' AND nspname !~ '^pg_' ORDER BY 1`)
	if err != nil {
		return c, err
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return c, err
	}
	for _, s := range schemas {
		counts, err := countRows(ctx, conn, s)
		if err != nil {
			return c, err
		}
		c.Tables += len(counts)
		for _, n := range counts {
			c.Rows += n
		}
	}
	if info.Tables >= 0 && c.Tables != info.Tables {
		c.Problems = append(c.Problems, fmt.Sprintf("%d tables restored, the manifest recorded %d", c.Tables, info.Tables))
	}
	if info.RowEstimate > 0 && c.Rows == 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("no rows restored, the manifest estimated %d", info.RowEstimate))
	}
	if len(c.Problems) > 0 {
		c.Result = plan.DrillFailed
	}
	return c, nil
}

// extract extracts the archive's folders into a scratch folder, counts
// what landed there and compares it with the manifest.
func (dr *drillRun) extract(ctx context.Context, rd *archive.Reader, m *archive.Manifest) error {
	var trees []*archive.TreeInfo
	if m != nil {
		for _, t := range []*archive.TreeInfo{m.Delivery, m.Files} {
			if t != nil {
				trees = append(trees, t)
			}
		}
	} else {
		for _, prefix := range []string{"delivery/", "files/"} {
			for _, e := range rd.Entries() {
				if strings.HasPrefix(e.Name, prefix) {
					trees = append(trees, &archive.TreeInfo{Prefix: prefix, Files: -1})
					break
				}
			}
		}
	}
	if len(trees) == 0 {
		return nil
	}
	scratch, err := os.MkdirTemp(tempDir(dr.env), "planb-drill-")
	if err != nil {
		return fmt.Errorf("create a scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	for i, t := range trees {
		dir := filepath.Join(scratch, fmt.Sprint(i))
		if _, err := extractTree(ctx, dr.st, dr.a.Archive, rd, t.Prefix, dir); err != nil {
			return err
		}
		c, err := countTree(dir)
		if err != nil {
			return fmt.Errorf("count the files extracted from %s: %w", t.Prefix, err)
		}
		c.Check = t.Prefix
		c.Result = plan.DrillOK
		if t.Files >= 0 {
			compare := func(what string, got, want int64) {
				if got != want {
					c.Problems = append(c.Problems, fmt.Sprintf("%d %s extracted, the manifest recorded %d", got, what, want))
				}
			}
			compare("files", int64(c.Files), int64(t.Files))
			compare("symlinks", int64(c.Symlinks), int64(t.Symlinks))
			compare("bytes", c.Bytes, t.Bytes)
		}
		if len(c.Problems) > 0 {
			c.Result = plan.DrillFailed
		}
		dr.progress.Add(c.Bytes)
		dr.rec.Checks = append(dr.rec.Checks, c)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// countTree counts the regular files (and their bytes) and symlinks below
// dir, as found on disk.
func countTree(dir string) (plan.DrillCheck, error) {
	var c plan.DrillCheck
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			c.Symlinks++
		case e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return err
			}
			c.Files++
			c.Bytes += info.Size()
		}
		return nil
	})
	return c, err
}

func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }
