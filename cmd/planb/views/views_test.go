package views

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/check"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/facts"
)

// newView returns a view writing to two buffers (never a terminal: no
// colours).
func newView() (*View, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &View{Stdout: &out, Stderr: &errOut}, &out, &errOut
}

func TestErrorLine(t *testing.T) {
	v, _, stderr := newView()
	v.Error("store.x: gone")
	if got := stderr.String(); got != "Error: store.x: gone\n" {
		t.Errorf("error line %q", got)
	}
}

func TestPlanViewSaved(t *testing.T) {
	v, out, _ := newView()
	NewPlan(Human, v).Saved("p.plan")
	if want := "\nSaved the plan to p.plan. Apply exactly this plan with: planb apply p.plan\n"; out.String() != want {
		t.Errorf("human Saved: %q, want %q", out.String(), want)
	}
	v, out, _ = newView()
	NewPlan(JSON, v).Saved("p.plan")
	if out.Len() != 0 {
		t.Errorf("JSON Saved printed %q: the JSON document must be the whole output", out.String())
	}
}

func TestApplyViewLines(t *testing.T) {
	for _, k := range []Kind{Human, JSON} {
		v, out, stderr := newView()
		a := NewApply(k, v)
		a.NothingToDo()
		a.Replanning([]string{"application.a", "application.b"})
		if want := "Nothing to do.\n\napplication.a, application.b changed while this apply waited for its lock: planning again.\n\n"; out.String() != want {
			t.Errorf("kind %d stdout %q, want %q", k, out.String(), want)
		}
		a.Unreachable("s3", "connection refused")
		a.Unreached(errors.New("store.s3 could not be reached"))
		a.Locked(true)
		a.Locked(false)
		want := "Warning: store.s3 cannot be reached now (connection refused): the plan's work in it will fail; the rest is done.\n" +
			"Error: store.s3 could not be reached\n" +
			"Another apply holds the lock: run again later, or wait for it with --lock-timeout (for example --lock-timeout 10m).\n"
		if stderr.String() != want {
			t.Errorf("kind %d stderr %q, want %q", k, stderr.String(), want)
		}
	}
}

func TestApplyViewAsks(t *testing.T) {
	v, out, _ := newView()
	a := NewApply(Human, v)
	a.Ask()
	a.NoAnswer()
	if want := "\nDo you want to perform these actions? Only 'yes' will be accepted: \n"; out.String() != want {
		t.Errorf("question %q, want %q", out.String(), want)
	}
}

func TestApplyJSONPlanIsAnEventLine(t *testing.T) {
	v, out, _ := newView()
	if err := NewApply(JSON, v).Plan(&plan.Plan{}); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Type string          `json:"type"`
		Time time.Time       `json:"time"`
		Plan json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if line.Type != "plan" || line.Time.IsZero() || len(line.Plan) == 0 || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("plan event line %s", out)
	}
}

// listing is a catalog with one archive of each kind of annotation and
// two drilled resources, one never drilled.
func listing() Listing {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	return Listing{
		Node: "node-a",
		Archives: []facts.ArchiveRow{
			{Resource: "application.crm", Store: "local", Folder: "application/crm", Archive: "crm_1.zip", Time: t0, Size: 2048, Status: plan.ArchiveComplete, Node: "node-a"},
			{Resource: "application.crm", Store: "local", Folder: "application/crm", Archive: "crm_2.zip", Time: t0, Size: 10, Status: plan.ArchiveComplete, Safety: true, Future: true, Encrypted: true, Node: "node-b"},
			{Store: "local", Folder: "application/old", Archive: "old_1.zip", Time: t0, Size: 1, Status: plan.ArchiveDamaged, Detail: "not a ZIP"},
		},
		Drills: []facts.DrillRow{
			{Resource: "application.crm", Drill: "weekly", Time: t0, Store: "local", Archive: "crm_1.zip", Result: "failed", DurationSeconds: 12.34, Problems: []string{"a", "b"}},
			{Resource: "application.hr", Drill: "weekly", Result: facts.DrillNever},
		},
		Unreachable: map[string]string{"s3": "connection refused"},
	}
}

func TestListHuman(t *testing.T) {
	v, out, _ := newView()
	if err := NewList(Human, v).List(listing()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"RESOURCE         STORE  ARCHIVE    TIME                  SIZE",
		"application.crm  local  crm_1.zip  2026-11-25T08:00:00Z  2.0 KiB  complete\n",
		"complete (safety backup) (dated in the future) (encrypted) (node node-b)\n",
		"application/old  local  old_1.zip",
		"damaged: not a ZIP\n",
		"\nRESOURCE         DRILL         LAST DRILL",
		"drill.weekly  2026-11-25T08:00:00Z  crm_1.zip  local  12.3s     failed: a; b\n",
		"application.hr   drill.weekly  never                 -          -      -         -\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
}

func TestListHumanEmpty(t *testing.T) {
	v, out, _ := newView()
	l := listing()
	l.Archives = nil
	if err := NewList(Human, v).List(l); err != nil {
		t.Fatal(err)
	}
	if out.String() != "No archives.\n" {
		t.Errorf("empty list %q", out)
	}
}

func TestListJSON(t *testing.T) {
	v, out, _ := newView()
	if err := NewList(JSON, v).List(Listing{}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"format_version\": \"1.0\",\n  \"archives\": []\n}\n"; out.String() != want {
		t.Errorf("empty JSON list %q, want %q", out, want)
	}
	v, out, _ = newView()
	if err := NewList(JSON, v).List(listing()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Archives []map[string]any `json:"archives"`
		Drills   []map[string]any `json:"drills"`
		Down     []struct {
			Store, Error string
		} `json:"unreachable_stores"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Archives) != 3 || doc.Archives[1]["safety"] != true || doc.Archives[0]["resource"] != "application.crm" {
		t.Errorf("archives %v", doc.Archives)
	}
	if _, ok := doc.Archives[0]["Ref"]; ok {
		t.Errorf("the store handle leaked into JSON: %v", doc.Archives[0])
	}
	if len(doc.Drills) != 2 || doc.Drills[1]["result"] != "never" {
		t.Errorf("drills %v", doc.Drills)
	}
	if len(doc.Down) != 1 || doc.Down[0].Store != "s3" || doc.Down[0].Error != "connection refused" {
		t.Errorf("unreachable stores %+v", doc.Down)
	}
}

func TestVerifyLines(t *testing.T) {
	v, out, _ := newView()
	r := facts.ArchiveRow{Store: "local", Folder: "application/crm", Archive: "crm_1.zip"}
	view := NewVerify(v)
	view.NotListed("s3", "connection refused")
	view.Archive(check.Result{Archive: r, Verdict: check.NotTried, Err: errors.New("timeout")})
	view.Archive(check.Result{Archive: r, Verdict: check.OK})
	view.Archive(check.Result{Archive: r, Verdict: check.OK, Checks: []runner.DeepCheck{{Schema: "crm_mngt", Tables: 3, Rows: 10}, {Schema: "crm_local", Tables: 1, Rows: 0}}})
	view.Archive(check.Result{Archive: r, Verdict: check.NoKey, Err: errors.New("no identity")})
	view.Archive(check.Result{Archive: r, Verdict: check.Unchecked, Err: errors.New("no CREATEDB")})
	view.Archive(check.Result{Archive: r, Verdict: check.Unreadable, Err: errors.New("EOF")})
	view.Archive(check.Result{Archive: r, Verdict: check.Damaged, Err: errors.New("crc")})
	view.Archive(check.Result{Archive: r, Verdict: check.Unreadable, Err: errors.New(`store "local": open application/crm/crm_1.zip: permission denied`)})
	view.Archive(check.Result{Archive: r, Verdict: check.Unreadable, Err: errors.New(`store "local": read application/crm/crm_1.zip at 4096: EOF`)})
	view.Totals(check.Totals{Checked: 7, Failed: 1, Unreadable: 4})
	want := `UNREADABLE store.s3: not listed: connection refused
UNREADABLE store.local application/crm/crm_1.zip: not tried: timeout
ok      store.local application/crm/crm_1.zip
ok      store.local application/crm/crm_1.zip (restored crm_mngt: 3 tables, 10 rows; crm_local: 1 tables, 0 rows)
NO KEY  store.local application/crm/crm_1.zip: no identity
UNCHECKED  store.local application/crm/crm_1.zip: checksums ok; no CREATEDB
UNREADABLE store.local application/crm/crm_1.zip: EOF
FAILED  store.local application/crm/crm_1.zip: crc
UNREADABLE store.local application/crm/crm_1.zip: permission denied
UNREADABLE store.local application/crm/crm_1.zip: read application/crm/crm_1.zip at 4096: EOF

7 archive(s) verified, 1 failed (damaged), 4 unreadable or unchecked.
`
	if out.String() != want {
		t.Errorf("verify lines:\n%s\nwant:\n%s", out, want)
	}
}

func TestValidateViews(t *testing.T) {
	v, out, stderr := newView()
	if err := NewValidate(Human, v).Validate(nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "The configuration is valid.\n" || stderr.Len() != 0 {
		t.Errorf("valid: stdout %q stderr %q", out, stderr)
	}
	bad := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: "An argument named \"x\" is not expected here."}}
	v, out, stderr = newView()
	if err := NewValidate(Human, v).Validate(bad); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || !strings.Contains(stderr.String(), "Unsupported argument") {
		t.Errorf("invalid: stdout %q stderr %q", out, stderr)
	}
	v, out, stderr = newView()
	if err := NewValidate(JSON, v).Validate(bad); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Valid bool `json:"valid"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Valid || stderr.Len() != 0 {
		t.Errorf("JSON: %s (%v), stderr %q", out, err, stderr)
	}
}

func TestFmtChanged(t *testing.T) {
	v, out, _ := newView()
	f := NewFmt(v)
	f.Changed("a.hcl", []byte("x=1\n"), []byte("x = 1\n"), false)
	f.Changed("b.hcl", []byte("x=1\n"), []byte("x = 1\n"), true)
	want := "a.hcl\nb.hcl\n--- b.hcl\n+++ b.hcl\n@@ -1,1 +1,1 @@\n-x=1\n+x = 1\n"
	if out.String() != want {
		t.Errorf("fmt output %q, want %q", out, want)
	}
}

func TestVersionLine(t *testing.T) {
	v, out, _ := newView()
	v.Version("1.2.3", "go1.26", "linux", "amd64")
	if out.String() != "planb 1.2.3 (go1.26, linux/amd64)\n" {
		t.Errorf("version %q", out)
	}
}

func TestGraphIsDOT(t *testing.T) {
	v, out, _ := newView()
	g := dag.NewGraph()
	if err := g.Add(dag.Step{ID: "a/lock", Label: "lock a", Run: func(context.Context, *dag.Progress) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := v.Graph(g); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "digraph") || !strings.Contains(out.String(), "lock a") {
		t.Errorf("DOT %q", out)
	}
}
