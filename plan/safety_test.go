package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/store/catalog"
)

func safetyArch(storeName, name string, age time.Duration) catalog.Archive {
	t := now.Add(-age)
	return catalog.Archive{Store: storeName, Ref: catalog.Ref{Kind: "applications", Name: name},
		Name: catalog.SafetyArchiveName(name, t), Time: t, Size: 100, Safety: true}
}

// A safety backup is the state a restore replaced: it is not a backup
// retention counts, never the newest, and goes after its own lifetime.
func TestSafetyBackupsAreNotBackups(t *testing.T) {
	h := time.Hour
	cfg := fixture()
	cat := Catalog{
		"node": {
			arch("node", "applications", "A", 50*h, false),
			arch("node", "applications", "A", 30*h, false),
			safetyArch("node", "A", 2*h),
			safetyArch("node", "A", 1*h),
			safetyArch("node", "A", 8*24*h),
		},
		"offsite": {arch("offsite", "applications", "A", 2*h, false)},
	}
	p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}})
	if err != nil {
		t.Fatal(err)
	}
	got := types(p)
	// store.node is due (its newest backup is 30h old, the safety backups
	// do not count) and copies from store.offsite; keep_last = 2 keeps that
	// copy and the 30h backup, whatever the two younger safety backups; the
	// 50h backup goes, and so does the safety backup past its lifetime.
	old := safetyArch("node", "A", 8*24*h).Name
	want := "copy application.A node <- offsite\nprune application.A node [" + arch("node", "applications", "A", 50*h, false).Name + " " + old + "]"
	if got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
	for _, r := range p.Resources {
		if r.Store == "node" && (r.Backups != 2 || r.Safety != 3 || strings.Contains(r.Newest, "safety")) {
			t.Errorf("store.node state %+v: want 2 backups, 3 safety backups, a newest that is no safety backup", r)
		}
	}

	// The default archive to restore is never a safety backup.
	_, a, err := ChooseArchive(cfg, cat, RestoreRequest{Resource: "application.A", Store: "node"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Safety || a.Time != now.Add(-30*h) {
		t.Fatalf("default restore archive %s, want the newest real backup", a.Name)
	}
	// Named, it is chosen.
	name := safetyArch("node", "A", 1*h).Name
	if _, a, err = ChooseArchive(cfg, cat, RestoreRequest{Resource: "application.A", Store: "node", From: name}, now); err != nil || a.Name != name {
		t.Fatalf("--from %s chose %s (%v)", name, a.Name, err)
	}
}

// An archive dated in the future (a copied file, a wrong clock) is never
// the newest, does not stop backups and makes retention prune nothing.
func TestFutureArchives(t *testing.T) {
	h := time.Hour
	cfg := fixture()
	future := arch("node", "applications", "A", -72*24*h, false)
	cat := Catalog{
		"node":    {arch("node", "applications", "A", 30*h, false), arch("node", "applications", "A", 26*h, false), future},
		"offsite": {arch("offsite", "applications", "A", 30*h, false)},
	}
	p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}})
	if err != nil {
		t.Fatal(err)
	}
	got := types(p)
	if !strings.HasPrefix(got, "backup application.A node\ncopy application.A offsite <- node") || strings.Contains(got, future.Name) {
		t.Fatalf("plan with a future archive:\n%s\nwant a backup and copy, and the future archive neither newest nor pruned", got)
	}
	var buf strings.Builder
	if err := p.WriteHuman(&buf, Style{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Archives dated in the future") || !strings.Contains(buf.String(), future.Name) {
		t.Fatalf("plan does not report the future archive:\n%s", buf.String())
	}
	if _, a, err := ChooseArchive(cfg, cat, RestoreRequest{Resource: "application.A", Store: "node"}, now); err != nil || a.Name == future.Name {
		t.Fatalf("default restore archive %s (%v), want no future one", a.Name, err)
	}
}
