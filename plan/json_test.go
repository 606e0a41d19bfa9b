package plan

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
)

// Every list of the plan document is present when empty: [] (and foreign
// {}), in plan --json, saved plans and what show prints of them.
func TestPlanJSONListsAreNeverNull(t *testing.T) {
	p, err := Make(fixture(), Catalog{}, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(t.TempDir(), "p.plan")
	if err := p.Save(saved); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(saved)
	if err != nil {
		t.Fatal(err)
	}
	for name, pl := range map[string]*Plan{"made": p, "loaded": loaded} {
		var buf bytes.Buffer
		if err := pl.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"targets", "actions", "resources", "orphans", "catalog", "drills", "node_conflicts", "unreachable_stores"} {
			if _, ok := doc[key].([]any); !ok {
				t.Errorf("%s: %q is %#v, want a list", name, key, doc[key])
			}
		}
		if _, ok := doc["foreign"].(map[string]any); !ok {
			t.Errorf("%s: foreign is %#v, want an object", name, doc["foreign"])
		}
		resources, _ := doc["resources"].([]any)
		if len(resources) == 0 {
			t.Fatalf("%s: no resources", name)
		}
		for _, r := range resources {
			for _, key := range []string{"future", "partials_kept", "damaged", "other_nodes"} {
				if _, ok := r.(map[string]any)[key].([]any); !ok {
					t.Errorf("%s: resource %v: %q is not a list", name, r.(map[string]any)["resource"], key)
				}
			}
		}
	}
}
