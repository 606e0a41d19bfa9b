package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/plan/retention"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner/dag"
)

// applyAs plans cfg as node (with what the store recorded of the nodes)
// at now, applies the plan and returns it with the result.
func applyAs(t *testing.T, cfg *config.Config, node string, now time.Time) (*plan.Plan, *dag.Result) {
	t.Helper()
	ctx := context.Background()
	cfg.Node = node
	st, err := store.NewLocal("node", cfg.Stores["node"].Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	archives, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ref := store.Ref{Kind: "persistence", Name: "node1"}
	nodes, err := ReadNodes(ctx, st, ref)
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]map[string]string{"node": {}}
	for name, n := range nodes {
		facts["node"][ref.Key(name)] = n
	}
	p, err := plan.Make(cfg, plan.Catalog{"node": archives}, plan.Options{Now: now, Nodes: facts})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": st}})
	if err != nil {
		t.Fatal(err)
	}
	return p, dag.Run(ctx, g, dag.Options{})
}

func TestBackupsRecordTheirNode(t *testing.T) {
	cfg, root := folderDrill(t)
	cfg.Drills = nil
	r := cfg.Resources[0]
	r.Retention = &config.Retention{Policy: retention.Policy{KeepLast: 1}}
	r.Owners = []string{"node-a", "node-b"}
	ref := store.Ref{Kind: "persistence", Name: "node1"}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	first := catalog.ArchiveName("node1", t0)
	second := catalog.ArchiveName("node1", t0.Add(25*time.Hour))

	// Node A backs up: the manifest and the store's record name it.
	if _, res := applyAs(t, cfg, "node-a", t0); len(res.Failed()) > 0 {
		t.Fatalf("apply: %+v", res.Failed())
	}
	m := manifestOf(t, filepath.Join(root, "persistence", "node1", first))
	if m.Node != "node-a" {
		t.Errorf("manifest node %q, want node-a", m.Node)
	}
	st, err := store.NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nodes, err := ReadNodes(ctx, st, ref)
	if err != nil || len(nodes) != 1 || nodes[first] != "node-a" {
		t.Fatalf("nodes record: %v (%v)", nodes, err)
	}

	// Node B, its partner, backs up a day later and prunes node A's
	// archive: the record then names node B's alone.
	p, res := applyAs(t, cfg, "node-b", t0.Add(25*time.Hour))
	if len(res.Failed()) > 0 {
		t.Fatalf("apply: %+v", res.Failed())
	}
	if p.Action("prune persistence.node1 store.node") == nil {
		t.Fatalf("node B did not prune the pair's older archive:\n%+v", p.Actions)
	}
	nodes, err = ReadNodes(ctx, st, ref)
	if err != nil || len(nodes) != 1 || nodes[second] != "node-b" {
		t.Fatalf("nodes record after the prune: %v (%v)", nodes, err)
	}

	// Whatever a plan says, a node outside the owners never deletes what
	// another node wrote: a prune of node B's archive made for node C
	// refuses it under the lock.
	r.Owners = nil
	cfg.Node = "node-c"
	prune := &plan.Plan{Now: t0.Add(26 * time.Hour), Actions: []*plan.Action{{
		ID: "prune persistence.node1 store.node", Type: plan.Prune, Resource: r.Address, Store: "node",
		Delete: []plan.Deletion{{Archive: second}},
	}}}
	if err := os.WriteFile(filepath.Join(root, "persistence", "node1", catalog.ArchiveName("node1", t0.Add(26*time.Hour))), mustReadFile(t, filepath.Join(root, "persistence", "node1", second)), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := Build(prune, &Env{Config: cfg, Stores: map[string]store.Store{"node": st}})
	if err != nil {
		t.Fatal(err)
	}
	failed := dag.Run(ctx, g, dag.Options{}).Failed()
	if len(failed) != 1 || !strings.Contains(failed[0].Err.Error(), "refusing to delete "+second+": node node-b wrote it, and this node (node-c) is not among the owners of persistence.node1") {
		t.Fatalf("prune of another node's archive: %+v", failed)
	}
	if _, err := os.Stat(filepath.Join(root, "persistence", "node1", second)); err != nil {
		t.Errorf("node B's archive is gone: %v", err)
	}
}

func TestNodesRecord(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := store.Ref{Kind: "applications", Name: "A"}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	a1, a2 := catalog.ArchiveName("A", t0), catalog.ArchiveName("A", t0.Add(time.Hour))

	if nodes, err := ReadNodes(ctx, st, ref); err != nil || nodes != nil {
		t.Fatalf("no record: %v, %v", nodes, err)
	}
	if noted, err := noteNode(ctx, st, ref, a1, ""); noted || err != nil {
		t.Fatalf("without a node: %v, %v", noted, err)
	}
	if noted, err := noteNode(ctx, st, ref, a1, "node-a"); !noted || err != nil {
		t.Fatalf("note: %v, %v", noted, err)
	}
	// a1 was never written: the next note drops it.
	if _, err := noteNode(ctx, st, ref, a2, "node-b"); err != nil {
		t.Fatal(err)
	}
	nodes, err := ReadNodes(ctx, st, ref)
	if err != nil || len(nodes) != 1 || nodes[a2] != "node-b" {
		t.Fatalf("record: %v, %v", nodes, err)
	}
	// What the store holds already (here a partial) keeps its node.
	up, err := st.Create(ctx, ref, a2)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	if noted, err := noteNode(ctx, st, ref, a2, "node-c"); noted || err != nil {
		t.Fatalf("note of an archive the store holds: %v, %v", noted, err)
	}
	foreign, err := foreignNodes(ctx, st, ref, []string{a2 + store.PartialSuffix, a1}, []string{"node-a"})
	if err != nil || len(foreign) != 1 || foreign[a2+store.PartialSuffix] != "node-b" {
		t.Fatalf("foreign: %v, %v", foreign, err)
	}
	forgetNodes(ctx, nil, st, ref, []string{a2 + store.PartialSuffix})
	if _, err := st.ReadRecord(ctx, ref, NodesRecord); err == nil {
		t.Error("an empty record is kept")
	}

	// A record that does not parse is an error, never "no other node".
	if err := st.WriteRecord(ctx, ref, NodesRecord, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadNodes(ctx, st, ref); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("garbled record: %v", err)
	}
	if _, err := noteNode(ctx, st, ref, a1, "node-a"); err == nil {
		t.Error("a backup overwrote a garbled record")
	}
}

func manifestOf(t *testing.T, path string) *archive.Manifest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rd, err := archive.Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	m, err := rd.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
