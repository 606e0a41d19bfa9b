package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const refused = "could not connect to http://127.0.0.1:9/: connection refused"

func TestUnreachableStorePlansTheOthers(t *testing.T) {
	h := time.Hour
	cases := map[string]struct {
		cat         Catalog
		unreachable string
		want        string
		unknown     []string // resource/store pairs
	}{
		// offsite would hold a fresh A to copy and old archives to prune:
		// nothing of it is known, so A is dumped into node and offsite is
		// left alone.
		"offsite unreachable": {
			cat: Catalog{"node": {
				arch("node", "applications", "A", 100*h, false),
				arch("node", "applications", "A", 50*h, false),
				arch("node", "applications", "A", 30*h, false),
				arch("node", "applications", "B", 2*h, false),
				arch("node", "measurement", "m", 2*h, false),
			}},
			unreachable: "offsite",
			want: "backup application.A node\n" +
				"prune application.A node [" + nodeArchive("A", 50*h) + " " + nodeArchive("A", 100*h) + "]",
			unknown: []string{"application.A offsite"},
		},
		// node holds everything but A's second copy: only A's backup into
		// offsite is planned; nothing is copied from or to node.
		"node unreachable": {
			cat:         Catalog{"offsite": {arch("offsite", "applications", "A", 30*h, false)}},
			unreachable: "node",
			want:        "backup application.A offsite",
			unknown:     []string{"application.A node", "application.B node", "measurement.m node"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := fixture()
			p, err := Make(cfg, c.cat, Options{Now: now, Unreachable: map[string]string{c.unreachable: refused}})
			if err != nil {
				t.Fatal(err)
			}
			if got := types(p); got != c.want {
				t.Errorf("actions:\n%s\nwant:\n%s", got, c.want)
			}
			var unknown []string
			for _, r := range p.Resources {
				if r.Status != StatusUnknown {
					if r.Store == c.unreachable {
						t.Errorf("%s in the unreachable store.%s has status %q", r.Resource, r.Store, r.Status)
					}
					continue
				}
				unknown = append(unknown, r.Resource+" "+r.Store)
				if r.Unreachable != "store unreachable ("+refused+")" {
					t.Errorf("%s: unreachable %q", r.Resource, r.Unreachable)
				}
			}
			if strings.Join(unknown, ",") != strings.Join(c.unknown, ",") {
				t.Errorf("unknown pairs %v, want %v", unknown, c.unknown)
			}
			for _, f := range p.Catalog {
				if f.Store == c.unreachable {
					t.Errorf("the plan relies on folder %s of the unreachable store", f.Folder)
				}
			}
			if len(p.Unreachable) != 1 || p.Unreachable[0].Store != c.unreachable || p.Unreachable[0].Error != refused ||
				strings.Join(p.Unreachable[0].Resources, ",") != strings.Join(resourcesOf(c.unknown), ",") {
				t.Errorf("unreachable stores %+v", p.Unreachable)
			}
			if err := p.UnreachableError(); err == nil || !strings.Contains(err.Error(), "store."+c.unreachable+" could not be reached ("+refused+"): nothing is planned there for ") {
				t.Errorf("UnreachableError = %v", err)
			}
		})
	}
}

// resourcesOf returns the resources of "resource store" pairs.
func resourcesOf(pairs []string) []string {
	var out []string
	for _, p := range pairs {
		r, _, _ := strings.Cut(p, " ")
		out = append(out, r)
	}
	return out
}

// nodeArchive is the name of an archive of application name in store.node.
func nodeArchive(name string, age time.Duration) string {
	return arch("node", "applications", name, age, false).Name
}

func TestUnreachableStoreOutput(t *testing.T) {
	h := time.Hour
	cat := Catalog{"node": {
		arch("node", "applications", "A", 2*h, false),
		arch("node", "applications", "B", 2*h, false),
		arch("node", "measurement", "m", 2*h, false),
	}}
	p, err := Make(fixture(), cat, Options{Now: now, Unreachable: map[string]string{"offsite": refused}})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() {
		t.Fatalf("actions %s, want none", types(p))
	}
	var human bytes.Buffer
	if err := p.WriteHuman(&human, Style{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"No changes as of 2026-11-25T08:00:00Z, but not every store could be reached.\n",
		"Unknown (the store could not be reached; nothing is planned there, and apply fails naming it):\n" +
			"  application.A in store.offsite: unknown: store unreachable (" + refused + ")\n",
		"Plan: 0 to back up, 0 to prune, 3 up to date, 1 unknown.\n",
	} {
		if !strings.Contains(human.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, human.String())
		}
	}
	var js bytes.Buffer
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources []struct {
			Resource, Store, Status, Unreachable string
		}
		UnreachableStores []UnreachableStore `json:"unreachable_stores"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc.Resources {
		if r.Store == "offsite" {
			found = r.Status == "unknown" && r.Unreachable == "store unreachable ("+refused+")"
		}
	}
	if !found || len(doc.UnreachableStores) != 1 || doc.UnreachableStores[0].Store != "offsite" {
		t.Errorf("plan --json does not show store.offsite unknown:\n%s", js.String())
	}
}

// A drill never takes its archive from an unreachable store.
func TestUnreachableStoreIsNotDrilled(t *testing.T) {
	h := time.Hour
	cat := Catalog{"node": {arch("node", "applications", "A", 2*h, false)}}
	p, err := Make(drillFixture(0), cat, Options{Now: now, Unreachable: map[string]string{"offsite": refused}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions {
		if a.Store == "offsite" || a.FromStore == "offsite" {
			t.Errorf("action %s involves the unreachable store", a.ID)
		}
	}
	if d := drillOf(p); d == nil || d.Store != "node" {
		t.Errorf("drill %+v, want one from store.node", d)
	}
}
