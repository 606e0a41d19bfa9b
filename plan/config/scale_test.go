package config

import (
	"fmt"
	"strings"
	"testing"
)

// manyApplications writes a configuration with n applications: half
// written out, half through one for_each block.
func manyApplications(tb testing.TB, n int) string {
	tb.Helper()
	var written, each strings.Builder
	written.WriteString(`retention "std" {
  keep_last  = 3
  keep_daily = 7
}
store "offsite" {
  s3 {
    bucket = "aip"
  }
}
`)
	each.WriteString("locals {\n  apps = {\n")
	for i := range n {
		name := fmt.Sprintf("APP%04d", i)
		prefix := strings.ToLower(name)
		if i%2 == 0 {
			fmt.Fprintf(&each, "    %s = %q\n", name, prefix)
			continue
		}
		fmt.Fprintf(&written, `application %q {
  database = database.css
  schemas = {
    management = "%[2]s_mngt"
    dashboard  = "%[2]s_central"
    analysis   = "%[2]s_local"
  }
  delivery_folder = "/data/delivery/%[1]s"
  options {
    exclusion_patterns = ["**/test/**"]
  }
  every     = "24h"
  retention = retention.std
  stores    = [store.node, store.offsite]
}
`, name, prefix)
	}
	each.WriteString(`  }
}
application "all" {
  for_each = local.apps
  database = database.css
  schemas = {
    management = "${each.value}_mngt"
    dashboard  = "${each.value}_central"
    analysis   = "${each.value}_local"
  }
  delivery_folder = "/data/delivery/${each.key}"
  options {
    exclusion_patterns = ["**/test/**"]
  }
  every     = "24h"
  retention = retention.std
  stores    = [store.node, store.offsite]
  after_restore "sync" {
    sql = "INSERT INTO aip_measure.snapshots SELECT * FROM ${each.value}_central.dss_snapshots"
  }
}
`)
	return writeConfig(tb, map[string]string{"base.hcl": baseHCL, "written.hcl": written.String(), "each.hcl": each.String()})
}

func TestLoad1000Applications(t *testing.T) {
	dir := manyApplications(t, 1000)
	cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(t, cfg.Files, diags))
	}
	if len(cfg.Resources) != 1000 {
		t.Fatalf("%d resources, want 1000", len(cfg.Resources))
	}
	if r := cfg.Resource(`application.all["APP0998"]`); r == nil || r.Schemas[2].Name != "app0998_local" || len(r.Stores) != 2 {
		t.Errorf("for_each instance: %+v", r)
	}
	if r := cfg.Resource("application.APP0999"); r == nil || r.DeliveryFolder != "/data/delivery/APP0999" {
		t.Errorf("written-out application: %+v", r)
	}
}

func BenchmarkLoad1000Applications(b *testing.B) {
	dir := manyApplications(b, 1000)
	opts := LoadOptions{Getenv: func(string) string { return "" }}
	for b.Loop() {
		if _, diags := Load(dir, opts); len(diags) > 0 {
			b.Fatal(diags)
		}
	}
}
