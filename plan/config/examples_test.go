package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// diagText renders diags as WriteDiagnostics would, for test failures.
func diagText(t *testing.T, files map[string]*hcl.File, diags hcl.Diagnostics) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, files, diags, false, 100); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestExamplesLoadOffline(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, dir := range dirs {
		if hcls, _ := filepath.Glob(filepath.Join(dir, "*.hcl")); len(hcls) == 0 {
			continue
		}
		found++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, diags := Load(dir, LoadOptions{Offline: true, Getenv: func(string) string { return "" }})
			if len(diags) > 0 {
				var files map[string]*hcl.File
				if cfg != nil {
					files = cfg.Files
				}
				t.Fatalf("diagnostics:\n%s", diagText(t, files, diags))
			}
			if len(cfg.Resources) == 0 {
				t.Fatal("no resources")
			}
			for _, name := range []string{"*.hcl"} {
				matches, _ := filepath.Glob(filepath.Join(dir, name))
				for _, m := range matches {
					src, err := os.ReadFile(m)
					if err != nil {
						t.Fatal(err)
					}
					out, diags := Format(src, m)
					if diags.HasErrors() {
						t.Fatalf("format %s: %s", m, diags)
					}
					if !bytes.Equal(out, src) {
						t.Errorf("%s is not formatted canonically:\n%s", m, out)
					}
				}
			}
		})
	}
	if found < 2 {
		t.Fatalf("found %d example configurations, want at least quickstart and cast-aip", found)
	}
}
