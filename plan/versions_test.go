package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan/config"
)

// versionsFixture is fixture() with a delivery folder for application.A,
// which backs up into stores node and offsite.
func versionsFixture(onNewVersion bool) *config.Config {
	cfg := fixture()
	a := cfg.Resources[0]
	a.DeliveryFolder, a.OnNewVersion = "/data/delivery/A", onNewVersion
	return cfg
}

func TestNewVersionMakesDue(t *testing.T) {
	h := time.Hour
	older := arch("node", "applications", "A", 10*h, false)
	newest := arch("offsite", "applications", "A", 2*h, false)
	cat := Catalog{"node": {older}, "offsite": {newest}}
	archived := map[string][]string{
		older.Key():  {"v1"},
		newest.Key(): {"v1", "v2"},
	}
	cases := map[string]struct {
		onNewVersion bool
		delivered    []string
		archived     map[string][]string
		wantReason   string // "" = A not due
	}{
		"nothing new":               {true, []string{"v1", "v2"}, archived, ""},
		"a version removed":         {true, []string{"v2"}, archived, ""},
		"one new version":           {true, []string{"v1", "v2", "v3"}, archived, "new version v3 delivered"},
		"two new versions":          {true, []string{"v1", "v2", "v3", "v4"}, archived, "new versions v3, v4 delivered"},
		"opted out":                 {false, []string{"v1", "v2", "v3"}, archived, ""},
		"newest archive unrecorded": {true, []string{"v1", "v2", "v3"}, map[string][]string{older.Key(): {"v1"}}, ""},
		"folder not listed":         {true, nil, archived, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			facts := VersionFacts{Delivered: map[string][]string{}, Archived: c.archived}
			if c.delivered != nil {
				facts.Delivered["application.A"] = c.delivered
			}
			p, err := Make(versionsFixture(c.onNewVersion), cat, Options{Now: now, Targets: []string{"application.A"}, Versions: facts})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range p.Actions {
				if a.Type == Backup || a.Type == Copy {
					got = append(got, string(a.Type)+" "+a.Store+": "+a.Reason)
				}
			}
			if c.wantReason == "" {
				if len(got) > 0 {
					t.Fatalf("A is due: %v", got)
				}
				return
			}
			// Both stores are due: one is backed up, the other gets a copy
			// of the new archive, never of the old one, which lacks the
			// version.
			want := []string{
				"backup node: " + c.wantReason,
				"copy offsite: " + c.wantReason + "; copy of the new backup in store.node",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("actions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestNewVersionAddsToScheduleReason(t *testing.T) {
	old := arch("node", "applications", "A", 30*time.Hour, false)
	cat := Catalog{"node": {old}, "offsite": {old}}
	cat["offsite"][0].Store = "offsite"
	facts := VersionFacts{
		Delivered: map[string][]string{"application.A": {"v1", "v2"}},
		Archived:  map[string][]string{old.Key(): {"v1"}},
	}
	p, err := Make(versionsFixture(true), cat, Options{Now: now, Targets: []string{"application.A"}, Versions: facts})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Action(actionID(Backup, "application.A", "node"))
	if b == nil {
		t.Fatalf("no backup of A:\n%s", types(p))
	}
	if want := "newest is 30h old, every 24h; new version v2 delivered"; b.Reason != want {
		t.Errorf("reason %q, want %q", b.Reason, want)
	}
}
