package plan

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/plan/retention"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// nodesOf records which node wrote each archive of a store, as the
// stores' nodes records tell the command layer.
func nodesOf(storeName string, byNode map[string][]catalog.Archive) map[string]map[string]string {
	m := map[string]string{}
	for node, archives := range byNode {
		for _, a := range archives {
			m[a.Ref.Key(strings.TrimSuffix(a.Name, catalog.PartialSuffix))] = node
		}
	}
	return map[string]map[string]string{storeName: m}
}

// nodeFixture is fixture() as node-b, with application.B keeping the last
// archive only.
func nodeFixture() *config.Config {
	cfg := fixture()
	cfg.Node = "node-b"
	cfg.Resource("application.B").Retention = &config.Retention{Name: "one", Policy: retention.Policy{KeepLast: 1}}
	return cfg
}

func TestOtherNodesArchivesAreLeftAlone(t *testing.T) {
	h := time.Hour
	// Node A backs up B too: an hour ago, yesterday, and now (a partial
	// whose writer no longer holds the lock: a crash), and once took a
	// safety backup. Node B has one archive of its own, 30h old, and one
	// that no record names (made before nodes were recorded).
	fresh := arch("node", "applications", "B", h, false)
	older := arch("node", "applications", "B", 26*h, false)
	partial := arch("node", "applications", "B", 10*time.Minute, true)
	safety := arch("node", "applications", "B", 20*24*h, false)
	safety.Name, safety.Safety = catalog.SafetyArchiveName("B", safety.Time), true
	own := arch("node", "applications", "B", 30*h, false)
	unrecorded := arch("node", "applications", "B", 60*h, false)
	cat := Catalog{"node": {fresh, older, partial, safety, own, unrecorded}}
	nodes := nodesOf("node", map[string][]catalog.Archive{"node-a": {fresh, older, partial, safety}, "node-b": {own}})

	p, err := Make(nodeFixture(), cat, Options{Now: now, Targets: []string{"application.B"}, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	// Node A's fresh archive does not make B up to date here, its partial
	// is not cleaned and its archives are not pruned: retention (keep
	// the last one) counts node B's archives only, and the one no record
	// names.
	want := `backup application.B node
prune application.B node [` + own.Name + ` ` + unrecorded.Name + `]`
	if got := types(p); got != want {
		t.Errorf("actions:\n%s\nwant:\n%s", got, want)
	}
	if p.Node != "node-b" {
		t.Errorf("plan node %q", p.Node)
	}
	st := p.Resources[0]
	if st.Backups != 2 || st.Newest != own.Name || st.Partials != 0 || len(st.OtherNodes) != 4 {
		t.Errorf("state: %+v", st)
	}

	// Two nodes back up B: the plan has a conflict, and it is refused.
	if len(p.Conflicts) != 1 {
		t.Fatalf("conflicts: %+v", p.Conflicts)
	}
	c := p.Conflicts[0]
	if c.Resource != "application.B" || c.Store != "node" || c.Node != "node-a" || c.Archives != 2 || c.Partials != 1 ||
		c.Newest != fresh.Name || strings.Join(c.Owners, ",") != "node-b" {
		t.Errorf("conflict: %+v", c)
	}
	err = p.ConflictError()
	if err == nil {
		t.Fatal("no conflict error")
	}
	for _, w := range []string{
		"another node backs up what this node (node-b) backs up:",
		"application.B in store.node: node node-a wrote 2 archive(s), the newest " + fresh.Name + " and 1 upload(s) under way or left over; its owners there are [\"node-b\"]",
		`owners = ["node-b", "node-a"] on the resource, or on the store`,
		`set planb { node = "node-a" }`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q:\n%v", w, err)
		}
	}
}

func TestOwnersShareArchives(t *testing.T) {
	h := time.Hour
	fresh := arch("node", "applications", "B", h, false)
	older := arch("node", "applications", "B", 26*h, false)
	partial := arch("node", "applications", "B", 10*time.Minute, true)
	own := arch("node", "applications", "B", 30*h, false)
	cat := Catalog{"node": {fresh, older, partial, own}}
	nodes := nodesOf("node", map[string][]catalog.Archive{"node-a": {fresh, older, partial}, "node-b": {own}})

	for name, set := range map[string]func(cfg *config.Config){
		"owners on the resource": func(cfg *config.Config) { cfg.Resource("application.B").Owners = []string{"node-a", "node-b"} },
		"owners on the store":    func(cfg *config.Config) { cfg.Stores["node"].Owners = []string{"node-a", "node-b"} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := nodeFixture()
			set(cfg)
			p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.B"}, Nodes: nodes})
			if err != nil {
				t.Fatal(err)
			}
			// A failover pair: node A's fresh archive makes B up to date on
			// node B, retention keeps the pair's newest, whoever wrote it,
			// and node A's partial of a run that is gone is cleaned.
			want := `clean application.B node [` + partial.Name + `]
prune application.B node [` + older.Name + ` ` + own.Name + `]`
			if got := types(p); got != want {
				t.Errorf("actions:\n%s\nwant:\n%s", got, want)
			}
			if len(p.Conflicts) != 0 || p.ConflictError() != nil || len(p.Resources[0].OtherNodes) != 0 {
				t.Errorf("a pair has conflicts: %+v", p.Conflicts)
			}
			if st := p.Resources[0]; st.Status != StatusUpToDate || st.Newest != fresh.Name || st.Backups != 3 {
				t.Errorf("state: %+v", st)
			}
		})
	}

	// Owners that do not name node A: its archives stay another node's.
	cfg := nodeFixture()
	cfg.Resource("application.B").Owners = []string{"node-b", "node-c"}
	p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.B"}, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Node != "node-a" || !strings.Contains(p.ConflictError().Error(), `owners = ["node-b", "node-a"]`) {
		t.Errorf("conflicts: %+v", p.Conflicts)
	}
	for _, a := range p.Actions {
		for _, d := range a.Delete {
			if d.Archive != own.Name {
				t.Errorf("%s deletes node A's %s", a.ID, d.Archive)
			}
		}
	}
}

// TestSafetyBackupOfAnotherNode: a restore made on another node leaves a
// safety backup there; that makes no conflict, and this node does not
// prune it, however old.
func TestSafetyBackupOfAnotherNode(t *testing.T) {
	h := time.Hour
	safety := arch("node", "applications", "B", 20*24*h, false)
	safety.Name, safety.Safety = catalog.SafetyArchiveName("B", safety.Time), true
	mine := arch("node", "applications", "B", 19*24*h, false)
	mine.Name, mine.Safety = catalog.SafetyArchiveName("B", mine.Time), true
	own := arch("node", "applications", "B", h, false)
	cat := Catalog{"node": {safety, mine, own}}
	nodes := nodesOf("node", map[string][]catalog.Archive{"node-a": {safety}, "node-b": {mine, own}})
	p, err := Make(nodeFixture(), cat, Options{Now: now, Targets: []string{"application.B"}, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ConflictError(); err != nil {
		t.Errorf("a safety backup of another node is a conflict: %v", err)
	}
	if want := "prune application.B node [" + mine.Name + "]"; types(p) != want {
		t.Errorf("actions:\n%s\nwant:\n%s", types(p), want)
	}
	var buf bytes.Buffer
	if err := p.WriteHuman(&buf, Style{}); err != nil {
		t.Fatal(err)
	}
	if w := "Archives of other nodes (not among the owners; this node never counts, prunes or cleans them):\n  application.B in store.node: " +
		safety.Name + " (node node-a, safety backup)\n"; !strings.Contains(buf.String(), w) {
		t.Errorf("plan output lacks %q:\n%s", w, buf.String())
	}
}
