package check

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/facts"
	"github.com/planb-backup/planb/runner/facts/factstest"
)

var ref = catalog.Ref{Kind: "applications", Name: "crm"}

// stored puts data as an archive of crm into a local store and returns
// its row.
func stored(t *testing.T, st store.Store, at time.Time, data []byte) facts.ArchiveRow {
	t.Helper()
	name := catalog.ArchiveName("crm", at)
	factstest.Put(t, st, ref, name, data)
	return facts.ArchiveRow{Store: st.Name(), Folder: "applications/crm", Archive: name, Status: plan.ArchiveComplete, Ref: ref, Handle: st}
}

func TestRunJudgesAndKeepsDamageRecords(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("local", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	sound := stored(t, st, t0, factstest.PlainZIP(t))
	broken := stored(t, st, t0.Add(time.Hour), []byte("not a zip"))
	partial := broken
	partial.Status = plan.ArchivePartial
	// The sound archive was marked damaged by an earlier check: it loses
	// its mark.
	if err := runner.MarkDamaged(ctx, st, ref, plan.Damage{Archive: sound.Archive, By: "verify", Problem: "crc"}); err != nil {
		t.Fatal(err)
	}

	var got []Result
	totals, err := Run(ctx, []facts.ArchiveRow{sound, broken, partial}, Options{}, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if totals != (Totals{Checked: 2, Failed: 1}) {
		t.Errorf("totals %+v", totals)
	}
	if len(got) != 2 || got[0].Verdict != OK || got[1].Verdict != Damaged || got[1].Err == nil {
		t.Fatalf("verdicts %+v", got)
	}
	marks, err := runner.ReadDamage(ctx, st, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) != 1 || marks[0].Archive != broken.Archive || marks[0].By != "verify" || marks[0].Problem != got[1].Err.Error() {
		t.Errorf("damage record %+v: want only the broken archive, with the problem verify reported", marks)
	}
}

func TestJudge(t *testing.T) {
	r := facts.ArchiveRow{Archive: "a.zip"}
	cause := errors.New("cause")
	for _, tc := range []struct {
		err     error
		verdict Verdict
		why     error
	}{
		{nil, OK, nil},
		{&runner.DamagedError{Err: cause}, Damaged, cause},
		{errors.New("test restore differs"), Damaged, nil},
		{&runner.UnreadableError{Err: cause}, Unreadable, cause},
		{fmt.Errorf("open: %w", store.ErrNoIdentity), NoKey, store.ErrNoIdentity},
	} {
		res := judge(r, nil, tc.err)
		if res.Verdict != tc.verdict {
			t.Errorf("%v: verdict %q, want %q", tc.err, res.Verdict, tc.verdict)
		}
		if tc.why != nil && res.Err != tc.why {
			t.Errorf("%v: reason %v, want %v", tc.err, res.Err, tc.why)
		}
	}
	u := &runner.UncheckedError{Err: cause}
	if res := judge(r, nil, u); res.Verdict != Unchecked || res.Err != u {
		t.Errorf("unchecked: %+v", res)
	}
}
