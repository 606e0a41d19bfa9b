package check

import (
	"archive/zip"
	"bytes"
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
)

var ref = catalog.Ref{Kind: "applications", Name: "crm"}

// stored puts data as an archive of crm into a local store and returns
// its row.
func stored(t *testing.T, st store.Store, at time.Time, data []byte) facts.ArchiveRow {
	t.Helper()
	ctx := context.Background()
	name := catalog.ArchiveName("crm", at)
	up, err := st.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	if _, err := up.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return facts.ArchiveRow{Store: st.Name(), Folder: "applications/crm", Archive: name, Status: plan.ArchiveComplete, Ref: ref, Handle: st}
}

// plainZIP is a sound archive of the original system: a ZIP without
// manifest.
func plainZIP(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("crm_mngt.dump")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("dump"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRunJudgesAndKeepsDamageRecords(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("local", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	sound := stored(t, st, t0, plainZIP(t))
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
