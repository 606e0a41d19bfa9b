package plan

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/plan/retention"
	"github.com/planb-backup/planb/providers/store/catalog"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// fixture is a configuration of two stores and three resources, built in
// code so the planner is tested without the loader.
func fixture() *config.Config {
	node := &config.Store{Name: "node", Local: &config.LocalStore{Path: "/b/node"}}
	offsite := &config.Store{Name: "offsite", Local: &config.LocalStore{Path: "/b/offsite"}}
	db := &config.Database{Name: "css", Host: "h", Port: 5432, DBName: "postgres"}
	keep2 := &config.Retention{Name: "two", Policy: retention.Policy{KeepLast: 2}}
	return &config.Config{
		Digest: "digest-1",
		Stores: map[string]*config.Store{"node": node, "offsite": offsite},
		Resources: []*config.Resource{
			{Kind: config.Application, Address: "application.A", Name: "A", Database: db,
				Schemas: []config.Schema{{Role: "management", Name: "a_mngt"}}, Every: 24 * time.Hour,
				Retention: keep2, Stores: []*config.Store{node, offsite}},
			{Kind: config.Application, Address: "application.B", Name: "B", Database: db,
				Schemas: []config.Schema{{Role: "management", Name: "b_mngt"}}, Every: 24 * time.Hour,
				Stores: []*config.Store{node}, DependsOn: []string{"application.A"}},
			{Kind: config.Measurement, Address: "measurement.m", Name: "m", Database: db,
				Schemas: []config.Schema{{Role: "measurement", Name: "m"}}, Every: 7 * 24 * time.Hour,
				Stores: []*config.Store{node}},
		},
	}
}

func arch(storeName, kind, name string, age time.Duration, partial bool) catalog.Archive {
	t := now.Add(-age)
	file := catalog.ArchiveName(name, t)
	if partial {
		file += catalog.PartialSuffix
	}
	a := catalog.Archive{Store: storeName, Ref: catalog.Ref{Kind: kind, Name: name}, Name: file, Time: t, Size: 100, Partial: partial}
	if partial {
		// Left by a run that no longer holds the lock.
		a.Writer = catalog.LockInfo{Host: "node-a", PID: 4242, RunID: "RUN-GONE", Time: t}
	}
	return a
}

func types(p *Plan) string {
	var out []string
	for _, a := range p.Actions {
		s := string(a.Type) + " " + a.Resource + " " + a.Store
		if a.FromStore != "" {
			s += " <- " + a.FromStore
		}
		if len(a.Delete) > 0 {
			var names []string
			for _, d := range a.Delete {
				names = append(names, d.Archive)
			}
			s += " [" + strings.Join(names, " ") + "]"
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

func TestMake(t *testing.T) {
	h := time.Hour
	cases := map[string]struct {
		cat     Catalog
		targets []string
		want    string
		summary string
	}{
		"nothing yet: one dump per resource, copies to the second store": {
			cat: Catalog{},
			want: `backup application.A node
copy application.A offsite <- node
backup application.B node
backup measurement.m node`,
			summary: "Plan: 3 to back up, 1 to copy, 0 to prune, 0 up to date.",
		},
		"fresh in one store: copy, no second dump": {
			cat: Catalog{
				"node": {arch("node", "applications", "A", 2*h, false), arch("node", "applications", "B", 2*h, false),
					arch("node", "measurement", "m", 2*h, false)},
			},
			want:    "copy application.A offsite <- node",
			summary: "Plan: 0 to back up, 1 to copy, 0 to prune, 3 up to date.",
		},
		"due after every, prune beyond keep_last after the new backup": {
			cat: Catalog{
				"node": {arch("node", "applications", "A", 26*h, false), arch("node", "applications", "A", 50*h, false),
					arch("node", "applications", "B", 2*h, false), arch("node", "measurement", "m", 2*h, false)},
				"offsite": {arch("offsite", "applications", "A", 26*h, false)},
			},
			want: `backup application.A node
copy application.A offsite <- node
prune application.A node [A_2026-11-23-06-00-00.zip]`,
			summary: "Plan: 1 to back up, 1 to copy, 1 to prune, 2 up to date.",
		},
		"partials are cleaned first": {
			cat: Catalog{
				"node": {arch("node", "applications", "B", 1*h, true), arch("node", "applications", "B", 30*h, false)},
			},
			targets: []string{"application.B"},
			want: `clean application.B node [B_2026-11-25-07-00-00.zip.partial]
backup application.B node`,
			summary: "Plan: 1 to back up, 0 to prune, 1 to clean, 0 up to date.",
		},
		"up to date": {
			cat: Catalog{
				"node":    {arch("node", "applications", "A", h, false), arch("node", "applications", "B", h, false), arch("node", "measurement", "m", 100*h, false)},
				"offsite": {arch("offsite", "applications", "A", h, false)},
			},
			want:    "",
			summary: "Plan: 0 to back up, 0 to prune, 4 up to date.",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Make(fixture(), c.cat, Options{Now: now, Targets: c.targets})
			if err != nil {
				t.Fatal(err)
			}
			if got := types(p); got != c.want {
				t.Errorf("actions:\n%s\nwant:\n%s", got, c.want)
			}
			if got := p.Summary(); got != c.summary {
				t.Errorf("summary %q, want %q", got, c.summary)
			}
		})
	}
}

func TestMakeDependencies(t *testing.T) {
	cat := Catalog{
		"node":    {arch("node", "applications", "A", 30*time.Hour, false), arch("node", "applications", "A", 60*time.Hour, false), arch("node", "applications", "A", 90*time.Hour, false)},
		"offsite": {},
	}
	p, err := Make(fixture(), cat, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	backupA := p.Action("backup application.A store.node")
	copyA := p.Action("copy application.A store.offsite")
	pruneA := p.Action("prune application.A store.node")
	backupB := p.Action("backup application.B store.node")
	if backupA == nil || copyA == nil || pruneA == nil || backupB == nil {
		t.Fatalf("missing actions:\n%s", types(p))
	}
	if strings.Join(copyA.DependsOn, ",") != backupA.ID {
		t.Errorf("the copy depends on %v, want the backup", copyA.DependsOn)
	}
	if strings.Join(pruneA.DependsOn, ",") != backupA.ID {
		t.Errorf("the prune depends on %v, want the new backup", pruneA.DependsOn)
	}
	if strings.Join(backupB.DependsOn, ",") != backupA.ID {
		t.Errorf("depends_on: backup of B depends on %v, want the backup of A", backupB.DependsOn)
	}
	// keep_last = 2 with the new backup: the two oldest go, the newest
	// complete archive (30h) is kept beside the new one.
	if len(pruneA.Delete) != 2 {
		t.Errorf("prune deletes %v, want the two oldest", pruneA.Delete)
	}
	for _, k := range pruneA.Keep {
		if k.Archive == "A_2026-11-24-02-00-00.zip" && len(k.Reasons) == 0 {
			t.Errorf("kept archive without a reason: %+v", k)
		}
	}
}

func TestMakeReportsOrphans(t *testing.T) {
	cat := Catalog{"node": {arch("node", "applications", "GONE", time.Hour, false)}}
	p, err := Make(fixture(), cat, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Orphans) != 1 || p.Orphans[0].Folder != "applications/GONE" {
		t.Fatalf("orphans: %+v", p.Orphans)
	}
	for _, a := range p.Actions {
		if a.Resource == "" || strings.Contains(a.ID, "GONE") {
			t.Errorf("an action touches the orphan: %s", a.ID)
		}
	}
}

func TestMakeUnknownTarget(t *testing.T) {
	_, err := Make(fixture(), Catalog{}, Options{Now: now, Targets: []string{"application.nope"}})
	if err == nil || !strings.Contains(err.Error(), "--target application.nope: no such resource") {
		t.Fatalf("err = %v", err)
	}
}

func TestHumanOutputGolden(t *testing.T) {
	cat := Catalog{
		"node": {arch("node", "applications", "A", 26*time.Hour, false), arch("node", "applications", "A", 50*time.Hour, false),
			arch("node", "applications", "B", 2*time.Hour, true), arch("node", "applications", "OLD", 2*time.Hour, false),
			arch("node", "measurement", "m", 2*time.Hour, false)},
	}
	p, err := Make(fixture(), cat, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.WriteHuman(&buf, Style{}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "plan.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("plan output differs from %s (run with -update to accept):\n%s", golden, buf.String())
	}
}

func TestSavedPlanStaleness(t *testing.T) {
	cat := Catalog{"node": {arch("node", "measurement", "m", 200*time.Hour, false)}}
	p, err := Make(fixture(), cat, Options{Now: now, Targets: []string{"measurement.m"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.plan")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", st.Mode().Perm())
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.CheckFresh("digest-1", cat); err != nil {
		t.Fatalf("fresh plan refused: %v", err)
	}
	if err := loaded.CheckFresh("digest-2", cat); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "configuration changed") {
		t.Errorf("changed digest: %v", err)
	}
	changed := Catalog{"node": append(cat["node"], arch("node", "measurement", "m", time.Hour, false))}
	if err := loaded.CheckFresh("digest-1", changed); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "is new") {
		t.Errorf("new archive: %v", err)
	}
	if err := loaded.CheckFresh("digest-1", Catalog{}); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("archive gone: %v", err)
	}
	os.WriteFile(path, []byte(`{"format_version":"9.0"}`), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("future format: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		26 * time.Hour:                "26h",
		24 * time.Hour:                "24h",
		7 * 24 * time.Hour:            "7d",
		36*time.Hour + 30*time.Minute: "36h30m",
		50 * time.Hour:                "2d2h",
		45 * time.Minute:              "45m",
		30 * time.Second:              "30s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSharedStoresHaveNoOrphans(t *testing.T) {
	cfg := fixture()
	cfg.Stores["node"].Shared = true
	cat := Catalog{
		"node":    {arch("node", "applications", "OTHER", time.Hour, false), arch("node", "applications", "OTHER", 2*time.Hour, false)},
		"offsite": {arch("offsite", "applications", "GONE", time.Hour, false)},
	}
	p, err := Make(cfg, cat, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Orphans) != 1 || p.Orphans[0].Store != "offsite" {
		t.Errorf("orphans: %+v, want only the one in the unshared store", p.Orphans)
	}
	if p.Foreign["node"] != 2 {
		t.Errorf("foreign: %v, want 2 in store.node", p.Foreign)
	}
	var buf bytes.Buffer
	p.WriteHuman(&buf, Style{})
	if !strings.Contains(buf.String(), "store.node is shared: 2 archive(s) of resources that other configurations back up are not shown.") {
		t.Errorf("plan output:\n%s", buf.String())
	}
}

// TestMakeKnownDamage: an archive a check found damaged is never the newest,
// never copied, and retention neither counts nor prunes it; the plan shows it.
func TestMakeKnownDamage(t *testing.T) {
	h := time.Hour
	good := arch("node", "applications", "A", 26*h, false)
	bad := arch("node", "applications", "A", 2*h, false)
	cat := Catalog{
		"node":    {good, bad, arch("node", "applications", "B", h, false), arch("node", "measurement", "m", h, false)},
		"offsite": {arch("offsite", "applications", "A", 26*h, false)},
	}
	damage := Damage{Found: now.Add(-h), By: "copy to store.offsite", Problem: "verify: entry schemas/a_mngt.cssbackup: zip: checksum error"}
	p, err := Make(fixture(), cat, Options{Now: now, Damaged: map[string]map[string]Damage{"node": {bad.Key(): damage}}})
	if err != nil {
		t.Fatal(err)
	}
	// Without the damaged archive, node's newest is 26h old: A is due in
	// both stores, and dumped anew instead of copied from the damaged one.
	// keep_last = 2 keeps the good archive and the new one: the damaged
	// archive does not push the good one out.
	want := `backup application.A node
copy application.A offsite <- node`
	if got := types(p); got != want {
		t.Errorf("actions:\n%s\nwant:\n%s", got, want)
	}
	backup := p.Action("backup application.A store.node")
	if backup == nil || !strings.Contains(backup.Reason, "the newer "+bad.Name+" is damaged") {
		t.Errorf("the backup's reason does not name the damaged archive: %+v", backup)
	}
	for _, a := range p.Actions {
		for _, d := range a.Delete {
			if d.Archive == bad.Name {
				t.Errorf("%s deletes the damaged archive", a.ID)
			}
		}
		for _, k := range a.Keep {
			if k.Archive == bad.Name {
				t.Errorf("%s counts the damaged archive as kept", a.ID)
			}
		}
	}
	var found bool
	for _, r := range p.Resources {
		if r.Resource == "application.A" && r.Store == "node" {
			found = len(r.Damaged) == 1 && r.Damaged[0].Archive == bad.Name && r.Backups == 1 && r.Newest == good.Name
		}
	}
	if !found {
		t.Errorf("resource states do not show the damage: %+v", p.Resources)
	}
	var buf bytes.Buffer
	if err := p.WriteHuman(&buf, Style{}); err != nil {
		t.Fatal(err)
	}
	line := "store.node " + bad.Name + ": verify: entry schemas/a_mngt.cssbackup: zip: checksum error (found by copy to store.offsite at 2026-11-25T07:00:00Z)"
	if !strings.Contains(buf.String(), "Damaged archives") || !strings.Contains(buf.String(), line) {
		t.Errorf("the plan does not show the damaged archive:\n%s", buf.String())
	}
}
