package runner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// TestBuildOrdersDependsOnWhateverTheOrder builds the graph of a plan whose
// first resource depends on a later one: its backup still waits for the
// other's archive.
func TestBuildOrdersDependsOnWhateverTheOrder(t *testing.T) {
	node := &config.Store{Name: "node", Local: &config.LocalStore{Path: t.TempDir()}}
	db := &config.Database{Name: "css", Host: "127.0.0.1", Port: 5432, DBName: "postgres"}
	cfg := &config.Config{
		Digest: "d",
		Stores: map[string]*config.Store{"node": node},
		Resources: []*config.Resource{
			{Kind: config.Application, Address: "application.A", Name: "A", Database: db,
				Schemas: []config.Schema{{Role: "management", Name: "a"}}, Every: time.Hour,
				Stores: []*config.Store{node}, DependsOn: []string{"application.B"}},
			{Kind: config.Application, Address: "application.B", Name: "B", Database: db,
				Schemas: []config.Schema{{Role: "management", Name: "b"}}, Every: time.Hour,
				Stores: []*config.Store{node}},
		},
	}
	p, err := plan.Make(cfg, plan.Catalog{}, plan.Options{Now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	local, err := store.NewLocal("node", node.Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": local}})
	if err != nil {
		t.Fatal(err)
	}
	var prepareA *dag.Step
	for _, s := range g.Steps() {
		if s.ID == "backup application.A store.node/prepare" {
			prepareA = &s
		}
	}
	if prepareA == nil {
		t.Fatalf("no prepare step for A among %d steps", g.Len())
	}
	if !slices.Contains(prepareA.Deps, "backup application.B store.node/archive") {
		t.Errorf("A's backup does not wait for B's archive: deps %v", prepareA.Deps)
	}
	// Every step says what it works on: its resource and store.
	for _, s := range g.Steps() {
		want := Target{"application.B", "node"}
		if strings.Contains(s.ID, "application.A") {
			want.Resource = "application.A"
		}
		if got := TargetOf(s); got != want {
			t.Errorf("step %s works on %+v, want %+v", s.ID, got, want)
		}
	}
	if got := TargetOf(dag.Step{ID: "x", Group: "not a target"}); got != (Target{}) {
		t.Errorf("TargetOf a step Build did not make: %+v", got)
	}
}

// TestBuildRefusesUnknownDependsOn builds a saved plan whose action depends
// on an action the plan does not contain: an error, not an ordering
// silently dropped.
func TestBuildRefusesUnknownDependsOn(t *testing.T) {
	node := &config.Store{Name: "node", Local: &config.LocalStore{Path: t.TempDir()}}
	db := &config.Database{Name: "css", Host: "127.0.0.1", Port: 5432, DBName: "postgres"}
	cfg := &config.Config{
		Digest: "d",
		Stores: map[string]*config.Store{"node": node},
		Resources: []*config.Resource{
			{Kind: config.Application, Address: "application.A", Name: "A", Database: db,
				Schemas: []config.Schema{{Role: "management", Name: "a"}}, Every: time.Hour,
				Stores: []*config.Store{node}},
		},
	}
	p, err := plan.Make(cfg, plan.Catalog{}, plan.Options{Now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Actions) == 0 {
		t.Fatal("no action planned")
	}
	p.Actions[0].DependsOn = append(p.Actions[0].DependsOn, "backup application.Z store.node")
	local, err := store.NewLocal("node", node.Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": local}})
	want := "depends on backup application.Z store.node, which the plan does not contain"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Build: %v, want an error containing %q", err, want)
	}
}
