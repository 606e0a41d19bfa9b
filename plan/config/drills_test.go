package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// drillResources are resources the drill tests refer to: a for_each
// application, a plain one, a measurement schema, a persistence database
// and a file-based persistence folder.
const drillResources = `database "scratch" {
  host = "scratch.example.com"
}
application "daily" {
  for_each = { A = "a", B = "b" }
  database = database.css
  schemas  = { management = "${each.value}_mngt" }
}
application "legacy" {
  database = database.css
  schemas  = { management = "legacy_mngt" }
}
measurement "health" {
  database = database.css
  schema   = "aip_measure"
}
persistence "console" {
  database = database.css
}
persistence "h2" {
  path = "/var/lib/h2"
}
`

func TestDrillDefaults(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"res.hcl":   drillResources,
		"drill.hcl": "drill \"weekly\" {\n}\n",
	}, LoadOptions{})
	if len(cfg.Drills) != 1 {
		t.Fatalf("%d drills, want 1", len(cfg.Drills))
	}
	d := cfg.Drills[0]
	if d.Name != "weekly" || d.Every != DefaultDrillEvery || d.Window != 0 || d.Database != nil {
		t.Errorf("drill: %+v", d)
	}
	// Every resource with a database; the folder has none.
	want := []string{`application.daily["A"]`, `application.daily["B"]`, "application.legacy", "measurement.health", "persistence.console"}
	if !slices.Equal(d.Resources, want) {
		t.Errorf("resources %q, want %q", d.Resources, want)
	}
	if cfg.DrillOf("application.legacy") != d || cfg.DrillOf("persistence.h2") != nil || cfg.Drill("weekly") != d {
		t.Error("DrillOf or Drill finds the wrong drill")
	}
}

func TestDrillAttributes(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"res.hcl": drillResources,
		"drill.hcl": `drill "monthly" {
  every        = "30d"
  applications = [application.daily, persistence.h2]
  database     = database.scratch
  window       = "90d"
}

drill "weekly" {
  every = "7d"
}
`,
	}, LoadOptions{})
	if len(cfg.Drills) != 2 {
		t.Fatalf("%d drills, want 2", len(cfg.Drills))
	}
	m, w := cfg.Drill("monthly"), cfg.Drill("weekly")
	if m.Every != 30*24*time.Hour || m.Window != 90*24*time.Hour || m.Database == nil || m.Database.Name != "scratch" {
		t.Errorf("monthly: %+v", m)
	}
	if want := []string{`application.daily["A"]`, `application.daily["B"]`, "persistence.h2"}; !slices.Equal(m.Resources, want) {
		t.Errorf("monthly drills %q, want %q", m.Resources, want)
	}
	// The drill without applications takes what the other leaves.
	if want := []string{"application.legacy", "measurement.health", "persistence.console"}; !slices.Equal(w.Resources, want) {
		t.Errorf("weekly drills %q, want %q", w.Resources, want)
	}
}

func TestDrillOneInstance(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"res.hcl":   drillResources,
		"drill.hcl": "drill \"d\" {\n  applications = [application.daily[\"B\"], application.daily[\"B\"]]\n}\n",
	}, LoadOptions{})
	if got := cfg.Drill("d").Resources; !slices.Equal(got, []string{`application.daily["B"]`}) {
		t.Errorf("resources %q", got)
	}
}

func TestDrillDiagnostics(t *testing.T) {
	tests := map[string]struct {
		drill  string
		want   []string
		detail string
	}{
		"unknown attribute": {
			drill: "drill \"d\" {\n  evry = \"1d\"\n}\n",
			want:  []string{"Unsupported argument @ drill.hcl:2:3"},
		},
		"bad every": {
			drill: "drill \"d\" {\n  every = \"weekly\"\n}\n",
			want:  []string{"Invalid duration @ drill.hcl:2:11"},
		},
		"zero window": {
			drill: "drill \"d\" {\n  window = \"0s\"\n}\n",
			want:  []string{"Invalid duration @ drill.hcl:2:12"},
		},
		"undeclared resource": {
			drill:  "drill \"d\" {\n  applications = [application.nope]\n}\n",
			want:   []string{"Reference to undeclared resource @ drill.hcl:2:19"},
			detail: `There is no application "nope"`,
		},
		"unknown instance": {
			drill: "drill \"d\" {\n  applications = [application.daily[\"C\"]]\n}\n",
			want:  []string{"Reference to undeclared resource @ drill.hcl:2:19"},
		},
		"not a resource": {
			drill:  "drill \"d\" {\n  applications = [database.css]\n}\n",
			want:   []string{"Invalid applications reference @ drill.hcl:2:19"},
			detail: "applications lists resources",
		},
		"empty list": {
			drill: "drill \"d\" {\n  applications = []\n}\n",
			want:  []string{"No resources to drill @ drill.hcl:2:18"},
		},
		"wrong database kind": {
			drill: "drill \"d\" {\n  database = store.node\n}\n",
			want:  []string{"Wrong kind of reference @ drill.hcl:2:14"},
		},
		"drilled twice": {
			drill:  "drill \"a\" {\n  applications = [application.legacy]\n}\ndrill \"b\" {\n  applications = [measurement.health, application.legacy]\n}\n",
			want:   []string{"Resource drilled twice @ drill.hcl:5:39"},
			detail: "application.legacy is drilled by drill.a already (listed at",
		},
		"two implicit drills": {
			drill:  "drill \"a\" {\n}\ndrill \"b\" {\n}\n",
			want:   []string{"Two drills without applications @ drill.hcl:3:1"},
			detail: "drill.a and drill.b both leave applications out",
		},
		"duplicate name": {
			drill: "drill \"a\" {\n}\ndrill \"a\" {\n  applications = [application.legacy]\n}\n",
			want:  []string{"Duplicate drill block @ drill.hcl:3:7"},
		},
		"resource referenced in an expression": {
			drill: "drill \"a\" {\n  every = application.legacy\n}\n",
			want:  []string{"Invalid reference @ drill.hcl:2:11"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "res.hcl": drillResources, "drill.hcl": tc.drill})
			_, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
			if got := diagLines(dir, diags); !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics:\n  got  %q\n  want %q\n%s", got, tc.want, diagText(t, nil, diags))
			}
			if tc.detail != "" && (len(diags) == 0 || !strings.Contains(diags[0].Detail, tc.detail)) {
				t.Errorf("detail lacks %q:\n%s", tc.detail, diagText(t, nil, diags))
			}
		})
	}
}

func TestDrillFormat(t *testing.T) {
	src := "drill \"weekly\" {\nevery = \"7d\"\n  applications = [application.legacy]\n    window=\"30d\"\n}\n"
	out, diags := Format([]byte(src), "drill.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := "drill \"weekly\" {\n  every        = \"7d\"\n  applications = [application.legacy]\n  window       = \"30d\"\n}\n"
	if string(out) != want {
		t.Errorf("format:\n%s\nwant:\n%s", out, want)
	}
}

func TestCastAIPExampleDrills(t *testing.T) {
	cfg, diags := Load("../../examples/cast-aip", LoadOptions{Offline: true, Getenv: func(string) string { return "" }})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(t, cfg.Files, diags))
	}
	weekly, monthly := cfg.Drill("weekly"), cfg.Drill("monthly")
	if weekly == nil || monthly == nil {
		t.Fatalf("drills: %+v", cfg.Drills)
	}
	if weekly.Window != 30*24*time.Hour || !slices.Contains(weekly.Resources, "measurement.health") || !slices.Contains(weekly.Resources, "application.LEGACY") {
		t.Errorf("weekly: %+v", weekly)
	}
	if !slices.Equal(monthly.Resources, []string{"persistence.console"}) || cfg.DrillOf("persistence.node1") != nil {
		t.Errorf("monthly: %+v", monthly)
	}
}
