package config

import (
	"strings"
	"testing"
	"time"
)

// Applications keep their delivery folders in packs and watch for new
// versions unless told otherwise; stores collect packs after 48 hours.
func TestIncrementalDefaultsAndOptOut(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `application "A" {
  database        = database.css
  schemas         = { management = "a_mngt" }
  delivery_folder = "/d/A"
}
application "B" {
  database        = database.css
  schemas         = { management = "b_mngt" }
  delivery_folder = "/d/B"
  incremental     = false
  on_new_version  = false
  full_read_every = 1
}
store "quick" {
  pack_grace = "2h"
  local { path = "/q" }
}
`}, LoadOptions{})
	a, b := cfg.Resource("application.A"), cfg.Resource("application.B")
	if !a.Incremental || !a.OnNewVersion || a.FullReadEvery != DefaultFullReadEvery {
		t.Errorf("A: incremental %v, on_new_version %v, full_read_every %d; want the defaults", a.Incremental, a.OnNewVersion, a.FullReadEvery)
	}
	if b.Incremental || b.OnNewVersion || b.FullReadEvery != 1 {
		t.Errorf("B: incremental %v, on_new_version %v, full_read_every %d; want false, false, 1", b.Incremental, b.OnNewVersion, b.FullReadEvery)
	}
	if g := cfg.Stores["quick"].PackGrace; g != 2*time.Hour {
		t.Errorf("pack_grace = %s, want 2h", g)
	}
	for name, s := range cfg.Stores {
		if name != "quick" && s.PackGrace != DefaultPackGrace {
			t.Errorf("store %s: pack_grace %s, want the default %s", name, s.PackGrace, DefaultPackGrace)
		}
	}
}

// full_read_every must be a whole number from 1: the error says where.
func TestFullReadEveryZeroIsRefused(t *testing.T) {
	dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "main.hcl": `application "A" {
  database        = database.css
  schemas         = { management = "a_mngt" }
  delivery_folder = "/d/A"
  full_read_every = 0
}
`})
	cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	if !diags.HasErrors() {
		t.Fatal("full_read_every = 0 accepted")
	}
	text := diagText(t, cfg.Files, diags)
	if !strings.Contains(text, "main.hcl line 5") || !strings.Contains(text, `"full_read_every" must be a whole number from 1`) {
		t.Errorf("diagnostic lacks the place or the name:\n%s", text)
	}
}
