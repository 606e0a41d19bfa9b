package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// exampleRecipients is a value of the example's offsite_recipients.
const exampleRecipients = `["age19nd6alg9u0c5ys9v3c5hqzm4cw65sahvdjf3yg535aw8sw3z6vzqcfs9p7"]`

func TestCastAIPExample(t *testing.T) {
	cfg, diags := Load("../../examples/cast-aip", LoadOptions{
		Vars:   map[string]string{"css_password": "pw", "s3_access_key": "ak", "s3_secret_key": "sk", "healthchecks_url": "https://hc-ping.com/0f1e", "offsite_recipients": exampleRecipients},
		Getenv: func(string) string { return "" },
	})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(t, cfg.Files, diags))
	}
	// The bucket is encrypted to the site's keys and the escrow key; the
	// example sets no identity: its nodes only write.
	if enc := cfg.Stores["offsite"].Encryption; enc == nil || len(enc.Recipients) != 2 || !strings.Contains(enc.Recipients[1], "escrow") || enc.IdentityFile != "" {
		t.Errorf("offsite encryption: %+v", enc)
	}
	if cfg.Stores["node"].Encryption != nil {
		t.Errorf("the node's store is encrypted: %+v", cfg.Stores["node"].Encryption)
	}
	var addrs []string
	for _, r := range cfg.Resources {
		addrs = append(addrs, r.Address)
	}
	want := []string{
		"application.LEGACY",
		`application.daily["BILLING"]`,
		`application.daily["MAINFRAME"]`,
		`application.daily["WEBSHOP"]`,
		"measurement.health",
		"persistence.console",
		"persistence.node1",
	}
	if !slices.Equal(addrs, want) {
		t.Fatalf("addresses = %q, want %q", addrs, want)
	}
	health := cfg.Resource("measurement.health")
	if !slices.Equal(health.DependsOn, want[:4]) {
		t.Errorf("measurement.health depends on %q, want every application", health.DependsOn)
	}
	mf := cfg.Resource(`application.daily["MAINFRAME"]`)
	if len(mf.AfterRestore) != 1 || !strings.Contains(mf.AfterRestore[0].SQL, "FROM mainframe_central.dss_snapshots") {
		t.Errorf("after_restore: %+v", mf.AfterRestore)
	}
	if cfg.Databases["console"].Host != "css.aip.example.com" || cfg.Databases["console"].Password.Reveal() != "pw" {
		t.Errorf("console database: %+v", cfg.Databases["console"])
	}
	if s3 := cfg.Stores["offsite"].S3; s3.SecretKey.Reveal() != "sk" || s3.AccessKey.Reveal() != "ak" {
		t.Errorf("offsite store: %+v", s3)
	}
	// bin_dir is null by default: pg_dump is looked up in PATH.
	if d := cfg.Databases["css"].BinDir; d != "" {
		t.Errorf("css bin_dir %q, want none by default", d)
	}
	if n := cfg.Notifiers; len(n) != 1 || n[0].Kind != Healthchecks || n[0].URL.Reveal() != "https://hc-ping.com/0f1e" || n[0].Host != "" || len(n[0].On) != 3 {
		t.Errorf("notifiers: %+v", n)
	}
	node1 := cfg.Resource("persistence.node1")
	if len(node1.Before) != 1 || len(node1.After) != 1 || node1.Path != "/var/lib/aip/node1/h2" || len(node1.Stores) != 1 {
		t.Errorf("persistence.node1: %+v", node1)
	}
}

// The S3 access key of the example has no default: every site sets its own.
func TestCastAIPExampleNeedsTheAccessKey(t *testing.T) {
	_, diags := Load("../../examples/cast-aip", LoadOptions{
		Vars:   map[string]string{"css_password": "pw", "s3_secret_key": "sk", "healthchecks_url": "https://hc-ping.com/0f1e"},
		Getenv: func(string) string { return "" },
	})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"s3_access_key" has no default`) {
		t.Errorf("loading without s3_access_key: %v", diags)
	}
	cfg, diags := Load("../../examples/cast-aip", LoadOptions{
		Vars:   map[string]string{"css_password": "pw", "s3_access_key": "ak", "s3_secret_key": "sk", "healthchecks_url": "https://hc-ping.com/0f1e", "bin_dir": "/opt/pg16/bin", "offsite_recipients": exampleRecipients},
		Getenv: func(string) string { return "" },
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, db := range []string{"css", "console"} {
		if d := cfg.Databases[db].BinDir; d != "/opt/pg16/bin" {
			t.Errorf("database %s: bin_dir %q, want the variable's", db, d)
		}
	}
}
