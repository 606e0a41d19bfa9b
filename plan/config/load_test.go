package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// mustLoad loads files (with base.hcl = baseHCL unless files sets it) and
// fails on any diagnostic.
func mustLoad(t *testing.T, files map[string]string, opts LoadOptions) *Config {
	t.Helper()
	if _, ok := files["base.hcl"]; !ok {
		files["base.hcl"] = baseHCL
	}
	dir := writeConfig(t, files)
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	cfg, diags := Load(dir, opts)
	if len(diags) > 0 {
		var f map[string]*hcl.File
		if cfg != nil {
			f = cfg.Files
		}
		t.Fatalf("unexpected diagnostics:\n%s", diagText(t, f, diags))
	}
	return cfg
}

func TestLoadDefaults(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"base.hcl": `database "css" {
  host = "localhost"
}
store "b" {
  local { path = "/b" }
}
store "a" {
  s3 {
    bucket     = "aip"
    access_key = "AKIA"
    secret_key = "s3cr3t"
  }
}
`,
		"main.hcl": `application "APP" {
  database = database.css
  schemas  = { analysis = "app_local", management = "app_mngt" }
}
`,
	}, LoadOptions{})
	db := cfg.Databases["css"]
	if db.Port != 5432 || db.User != "postgres" || db.DBName != "postgres" || db.SSLMode != "prefer" || db.BinDir != "" || !db.Password.IsZero() {
		t.Errorf("database defaults: %+v", db)
	}
	r := cfg.Resource("application.APP")
	if r == nil {
		t.Fatal("application.APP missing")
	}
	if r.Name != "APP" || r.Kind != Application || r.Every != DefaultEvery || r.Retention != nil || r.Database != db {
		t.Errorf("resource defaults: %+v", r)
	}
	wantSchemas := []Schema{{"management", "app_mngt"}, {"analysis", "app_local"}}
	if !slices.Equal(r.Schemas, wantSchemas) {
		t.Errorf("schemas = %v, want %v (role order)", r.Schemas, wantSchemas)
	}
	var stores []string
	for _, s := range r.Stores {
		stores = append(stores, s.Name)
	}
	if !slices.Equal(stores, []string{"a", "b"}) {
		t.Errorf("default stores = %v, want all stores by name", stores)
	}
	s3 := cfg.Stores["a"].S3
	if s3.AccessKey.Reveal() != "AKIA" || s3.SecretKey.Reveal() != "s3cr3t" || s3.Bucket != "aip" {
		t.Errorf("s3 store: %+v", s3)
	}
	if cfg.Parallelism != 0 {
		t.Errorf("parallelism = %d, want 0 (not set)", cfg.Parallelism)
	}
}

func TestLoadResources(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"main.hcl": `planb {
  parallelism = 3
}
locals {
  apps = { WEB = "web", MAINFRAME = "mf" }
  std  = retention.std
}
retention "std" {
  keep_last   = 3
  keep_daily  = 7
  keep_within = "1d12h"
  max_age     = "90d"
}
application "all" {
  for_each = local.apps
  database = database.css
  schemas  = { management = "${each.value}_mngt", dashboard = "${each.value}_central" }
  delivery_folder = "delivery/${each.key}"
  retention = local.std
  options {
    exclusion_patterns = ["**/test/**"]
    extra              = { mode = "fast" }
    file               = "/data/${each.key}/options.xml"
  }
  after_restore "sync" {
    sql = "SELECT '${each.key}'"
  }
  after_restore {
    command = ["echo", each.key]
    timeout = "30s"
  }
}
application "ONE" {
  name       = "one-app"
  database   = database.css
  schemas    = { analysis = "one_local" }
  every      = "7d"
  depends_on = [application.all]
  retention {
    keep_last = 1
  }
}
measurement "health" {
  database   = database.css
  schema     = "aip_measure"
  depends_on = [application.all["WEB"], application.ONE]
}
persistence "h2" {
  path  = "/var/lib/h2"
  every = "1h"
  before {
    command = ["systemctl", "stop", "node"]
    dir     = "/tmp"
    timeout = "2m"
  }
  after {
    command = ["systemctl", "start", "node"]
  }
}
persistence "console" {
  database = database.css
}
`,
	}, LoadOptions{})

	if cfg.Parallelism != 3 {
		t.Errorf("parallelism = %d", cfg.Parallelism)
	}
	var addrs []string
	for _, r := range cfg.Resources {
		addrs = append(addrs, r.Address)
	}
	wantAddrs := []string{
		"application.ONE",
		`application.all["MAINFRAME"]`,
		`application.all["WEB"]`,
		"measurement.health",
		"persistence.console",
		"persistence.h2",
	}
	if !slices.Equal(addrs, wantAddrs) {
		t.Fatalf("addresses = %q, want %q", addrs, wantAddrs)
	}

	web := cfg.Resource(`application.all["WEB"]`)
	if web.Name != "WEB" || web.Schemas[1] != (Schema{"dashboard", "web_central"}) {
		t.Errorf("for_each instance: %+v", web)
	}
	if web.DeliveryFolder != filepath.Join(cfg.Dir, "delivery/WEB") {
		t.Errorf("relative delivery folder = %q, want it under the config dir", web.DeliveryFolder)
	}
	if web.Retention != cfg.Retentions["std"] || web.Retention.KeepWithin != 36*time.Hour || web.Retention.MaxAge != 90*24*time.Hour {
		t.Errorf("retention through a local: %+v", web.Retention)
	}
	if web.Options.Extra["mode"] != "fast" || !slices.Equal(web.Options.ExclusionPatterns, []string{"**/test/**"}) || web.Options.File != "/data/WEB/options.xml" {
		t.Errorf("options: %+v", web.Options)
	}
	if len(web.AfterRestore) != 2 {
		t.Fatalf("hooks: %+v", web.AfterRestore)
	}
	if h := web.AfterRestore[0]; h.Name != "sync" || h.SQL != "SELECT 'WEB'" || h.Database != cfg.Databases["css"] {
		t.Errorf("sql hook: %+v", h)
	}
	if h := web.AfterRestore[1]; h.Command == nil || !slices.Equal(h.Command.Argv, []string{"echo", "WEB"}) || h.Command.Timeout != 30*time.Second {
		t.Errorf("command hook: %+v", h)
	}

	one := cfg.Resource("application.ONE")
	if one.Name != "one-app" || one.Every != 7*24*time.Hour || one.Retention.KeepLast != 1 || one.Retention.Name != "" {
		t.Errorf("application.ONE: %+v", one)
	}
	if want := []string{`application.all["MAINFRAME"]`, `application.all["WEB"]`}; !slices.Equal(one.DependsOn, want) {
		t.Errorf("depends_on on a for_each block = %q, want %q", one.DependsOn, want)
	}
	health := cfg.Resource("measurement.health")
	if want := []string{"application.ONE", `application.all["WEB"]`}; !slices.Equal(health.DependsOn, want) {
		t.Errorf("measurement depends_on = %q, want %q", health.DependsOn, want)
	}
	if !slices.Equal(health.Schemas, []Schema{{"measurement", "aip_measure"}}) {
		t.Errorf("measurement schemas: %v", health.Schemas)
	}
	h2 := cfg.Resource("persistence.h2")
	if h2.Path != "/var/lib/h2" || h2.Database != nil || len(h2.Before) != 1 || len(h2.After) != 1 || h2.Every != time.Hour {
		t.Fatalf("persistence.h2: %+v", h2)
	}
	if b := h2.Before[0]; !slices.Equal(b.Argv, []string{"systemctl", "stop", "node"}) || b.Dir != "/tmp" || b.Timeout != 2*time.Minute {
		t.Errorf("before: %+v", b)
	}
	if c := cfg.Resource("persistence.console"); c.Database != cfg.Databases["css"] || c.Path != "" || len(c.Schemas) != 0 {
		t.Errorf("persistence.console: %+v", c)
	}
}

func TestVariables(t *testing.T) {
	const decl = `variable "root" {
  type    = string
  default = "/default"
}
variable "apps" {
  type    = list(string)
  default = []
}
variable "n" {
  type = number
  default = 1
}
locals {
  root = var.root
  apps = var.apps
  n    = var.n
}
`
	tests := map[string]struct {
		env      map[string]string
		varFile  string
		vars     map[string]string
		wantRoot string
		wantApps []string
		wantN    int
	}{
		"defaults": {wantRoot: "/default", wantApps: []string{}, wantN: 1},
		"environment": {
			env:      map[string]string{"PLANB_VAR_root": "/env", "PLANB_VAR_apps": `["a", "b"]`, "PLANB_VAR_n": "2"},
			wantRoot: "/env", wantApps: []string{"a", "b"}, wantN: 2,
		},
		"var file beats environment": {
			env:      map[string]string{"PLANB_VAR_root": "/env"},
			varFile:  "root = \"/file\"\napps = [\"x\"]\n",
			wantRoot: "/file", wantApps: []string{"x"}, wantN: 1,
		},
		"--var beats var file": {
			env:      map[string]string{"PLANB_VAR_root": "/env"},
			varFile:  "root = \"/file\"\n",
			vars:     map[string]string{"root": `["not", "parsed"]`, "apps": `[ "c" ]`, "n": "3"},
			wantRoot: `["not", "parsed"]`, wantApps: []string{"c"}, wantN: 3,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeConfig(t, map[string]string{"main.hcl": decl, "base.hcl": baseHCL})
			opts := LoadOptions{Vars: tc.vars, Getenv: func(k string) string { return tc.env[k] }}
			if tc.varFile != "" {
				path := filepath.Join(t.TempDir(), "prod.planbvars")
				if err := os.WriteFile(path, []byte(tc.varFile), 0o644); err != nil {
					t.Fatal(err)
				}
				opts.VarFiles = []string{path}
			}
			l := loadForTest(t, dir, opts)
			locals := l.values["local"]
			if got := locals["root"].AsString(); got != tc.wantRoot {
				t.Errorf("root = %q, want %q", got, tc.wantRoot)
			}
			var apps []string
			for _, v := range locals["apps"].AsValueSlice() {
				apps = append(apps, v.AsString())
			}
			if len(apps) != len(tc.wantApps) || (len(apps) > 0 && !slices.Equal(apps, tc.wantApps)) {
				t.Errorf("apps = %q, want %q", apps, tc.wantApps)
			}
			if n, _ := locals["n"].AsBigFloat().Int64(); int(n) != tc.wantN {
				t.Errorf("n = %d, want %d", n, tc.wantN)
			}
		})
	}
}

// loadForTest runs a Load and returns the loader, failing on diagnostics.
func loadForTest(t *testing.T, dir string, opts LoadOptions) *loader {
	t.Helper()
	l := newLoader(dir, opts)
	cfg := l.run()
	if diags := l.finish(); len(diags) > 0 {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		t.Fatalf("unexpected diagnostics:\n%s", diagText(t, files, diags))
	}
	return l
}

func TestSensitiveVariables(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"base.hcl": "",
		"main.hcl": `variable "password" {
  type      = string
  sensitive = true
}
variable "keys" {
  type      = object({ access = string, secret = string })
  sensitive = true
}
database "css" {
  host     = "localhost"
  password = var.password
}
store "s3" {
  s3 {
    bucket     = "b"
    access_key = var.keys.access
    secret_key = var.keys.secret
  }
}
`,
	}, LoadOptions{Vars: map[string]string{"password": "pw", "keys": `{ access = "AK", secret = "SK" }`}})
	if got := cfg.Databases["css"].Password.Reveal(); got != "pw" {
		t.Errorf("password = %q", got)
	}
	s3 := cfg.Stores["s3"].S3
	if s3.AccessKey.Reveal() != "AK" || s3.SecretKey.Reveal() != "SK" {
		t.Errorf("s3 keys = %q, %q", s3.AccessKey.Reveal(), s3.SecretKey.Reveal())
	}
	for _, v := range cfg.Variables {
		if !v.Sensitive || !v.Set {
			t.Errorf("variable %+v: want sensitive and set", v)
		}
	}
}

func TestOffline(t *testing.T) {
	files := map[string]string{
		"main.hcl": `variable "password" {
  type      = string
  sensitive = true
}
variable "apps" {
  type = set(string)
}
variable "port" {
  type = number
  validation {
    condition     = var.port > 1024
    error_message = "Use an unprivileged port."
  }
}
database "pg" {
  host     = "db"
  port     = var.port
  password = var.password
}
application "all" {
  for_each = var.apps
  database = database.pg
  schemas  = { management = "${each.key}_mngt" }
}
application "fixed" {
  database = database.pg
  schemas  = { management = "fixed_mngt" }
}
`,
	}
	t.Run("offline", func(t *testing.T) {
		cfg := mustLoad(t, files, LoadOptions{Offline: true})
		if len(cfg.Resources) != 1 || cfg.Resources[0].Address != "application.fixed" {
			t.Errorf("resources = %+v, want only application.fixed (for_each is unknown)", cfg.Resources)
		}
		for _, v := range cfg.Variables {
			if v.Set {
				t.Errorf("variable %s reported as set", v.Name)
			}
		}
	})
	t.Run("offline still checks the for_each body", func(t *testing.T) {
		dir := writeConfig(t, map[string]string{
			"base.hcl": baseHCL,
			"main.hcl": "variable \"apps\" {\n  type = set(string)\n}\napplication \"all\" {\n  for_each = var.apps\n  database = database.nope\n  schemas  = { management = each.key }\n  every = \"daily\"\n}\n",
		})
		_, diags := Load(dir, LoadOptions{Offline: true, Getenv: func(string) string { return "" }})
		want := []string{"Reference to undeclared database @ main.hcl:6:14", "Invalid duration @ main.hcl:8:11"}
		if got := diagLines(dir, diags); !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("online", func(t *testing.T) {
		files := map[string]string{"main.hcl": files["main.hcl"], "base.hcl": baseHCL}
		dir := writeConfig(t, files)
		_, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }, Vars: map[string]string{"port": "80"}})
		want := []string{
			"No value for required variable @ main.hcl:1:1",
			"No value for required variable @ main.hcl:5:1",
			"Invalid value for variable @ main.hcl:11:21",
		}
		if got := diagLines(dir, diags); !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestLoadReturnsConfig(t *testing.T) {
	t.Run("semantic errors", func(t *testing.T) {
		dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "main.hcl": "locals {\n  a = var.nope\n}\n"})
		cfg, diags := Load(dir, LoadOptions{})
		if cfg == nil || !diags.HasErrors() || cfg.Databases["css"] == nil {
			t.Errorf("cfg = %v, diags = %v: want a partial config and errors", cfg, diags)
		}
	})
	t.Run("syntax errors in two files", func(t *testing.T) {
		dir := writeConfig(t, map[string]string{"a.hcl": "locals {\n", "b.hcl": "x = = 1\n", "c.hcl": baseHCL})
		cfg, diags := Load(dir, LoadOptions{})
		if cfg != nil {
			t.Error("want no config when a file does not parse")
		}
		files := map[string]bool{}
		for _, d := range diags {
			files[filepath.Base(d.Subject.Filename)] = true
		}
		if !files["a.hcl"] || !files["b.hcl"] {
			t.Errorf("want syntax errors of both files, got %v", diags)
		}
	})
	t.Run("no files", func(t *testing.T) {
		dir := t.TempDir()
		cfg, diags := Load(dir, LoadOptions{})
		if cfg != nil || len(diags) != 1 || diags[0].Summary != "No configuration files" {
			t.Errorf("got %v, %v", cfg, diags)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		cfg, diags := Load(filepath.Join(t.TempDir(), "nope"), LoadOptions{})
		if cfg != nil || len(diags) != 1 || diags[0].Summary != "Cannot read the configuration directory" {
			t.Errorf("got %v, %v", cfg, diags)
		}
	})
}

func TestDigest(t *testing.T) {
	const main = `variable "password" {
  sensitive = true
}
variable "root" {
  default = "/b"
}
database "css" {
  host     = "localhost"
  password = var.password
}
store "node" {
  local { path = var.root }
}
`
	load := func(t *testing.T, src string, vars map[string]string) string {
		t.Helper()
		cfg := mustLoad(t, map[string]string{"base.hcl": "", "main.hcl": src}, LoadOptions{Vars: vars})
		if len(cfg.Digest) != 64 {
			t.Fatalf("digest %q is not a hex SHA-256", cfg.Digest)
		}
		return cfg.Digest
	}
	ref := load(t, main, map[string]string{"password": "one"})
	if got := load(t, main, map[string]string{"password": "one"}); got != ref {
		t.Error("the same configuration gives another digest")
	}
	if got := load(t, main, map[string]string{"password": "rotated"}); got != ref {
		t.Error("a rotated sensitive value changes the digest")
	}
	if got := load(t, main, map[string]string{"password": "one", "root": "/other"}); got == ref {
		t.Error("a changed variable does not change the digest")
	}
	if got := load(t, main+"\n# comment\n", map[string]string{"password": "one"}); got == ref {
		t.Error("a changed file does not change the digest")
	}
}

func TestFunctions(t *testing.T) {
	dir := writeConfig(t, map[string]string{
		"base.hcl":  baseHCL,
		"query.sql": "SELECT 1;\n",
		"main.hcl": `locals {
  plain     = replace("a.b.c", ".", "/")
  regex     = replace("app_v12", "/_v[0-9]+$/", "")
  strlen    = length("día")
  listlen   = length(["a", "b"])
  env       = env("PLANB_TEST_HOME")
  file      = trimspace(file("query.sql"))
  try       = try(tonumber("x"), 7)
  can       = can(regex("^[a-z]+$", "abc"))
  formatted = format("%s-%03d", upper("web"), 7)
  joined    = join(",", sort(keys({ b = 1, a = 2 })))
  merged    = lookup(merge({ a = 1 }, { a = 2 }), "a", 0)
  starts    = startswith("/data", "/")
  regrep    = regex_replace("aaa", "a", "b")
}
`,
	})
	l := loadForTest(t, dir, LoadOptions{Getenv: func(k string) string {
		if k == "PLANB_TEST_HOME" {
			return "/home/aip"
		}
		return ""
	}})
	v := l.values["local"]
	str := func(name, want string) {
		t.Helper()
		if got := v[name].AsString(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	num := func(name string, want int64) {
		t.Helper()
		if got, _ := v[name].AsBigFloat().Int64(); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	str("plain", "a/b/c")
	str("regex", "app")
	num("strlen", 3)
	num("listlen", 2)
	str("env", "/home/aip")
	str("file", "SELECT 1;")
	num("try", 7)
	if !v["can"].True() || !v["starts"].True() {
		t.Error("can/startswith returned false")
	}
	str("formatted", "WEB-007")
	str("joined", "a,b")
	num("merged", 2)
	str("regrep", "bbb")
}

func TestParseDuration(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		"days":           {in: "7d", want: 7 * 24 * time.Hour},
		"hours":          {in: "36h", want: 36 * time.Hour},
		"days and hours": {in: "1d12h", want: 36 * time.Hour},
		"minutes":        {in: "90m", want: 90 * time.Minute},
		"milliseconds":   {in: "1500ms", want: 1500 * time.Millisecond},
		"fraction":       {in: "1.5d", want: 36 * time.Hour},
		"zero":           {in: "0", want: 0},
		"words":          {in: "7 days", wantErr: true},
		"no unit":        {in: "7", wantErr: true},
		"negative":       {in: "-1h", wantErr: true},
		"empty":          {in: "", wantErr: true},
		"unknown unit":   {in: "2w", wantErr: true},
		"too long":       {in: "999999999d", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("ParseDuration(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestQuoteKey(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":     {"MAINFRAME", `"MAINFRAME"`},
		"quote":     {`a"b`, `"a\"b"`},
		"backslash": {`a\b`, `"a\\b"`},
		"newline":   {"a\nb", `"a\nb"`},
		"template":  {"${x}", `"$${x}"`},
		"directive": {"%{x}", `"%%{x}"`},
		"unicode":   {"día", `"día"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := quoteKey(tc.in); got != tc.want {
				t.Errorf("quoteKey(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestNamedMeasurementAndPersistence(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"main.hcl": `variable "node" {
  type    = string
  default = "node-7"
}
measurement "health" {
  name     = "health-${var.node}"
  database = database.css
  schema   = "aip_measure"
}
persistence "h2" {
  name = "h2-${var.node}"
  path = "/var/lib/aip/h2"
}
`}, LoadOptions{})
	for addr, want := range map[string]string{"measurement.health": "health-node-7", "persistence.h2": "h2-node-7"} {
		r := cfg.Resource(addr)
		if r == nil || r.Name != want {
			t.Errorf("%s: name %v, want %q", addr, r, want)
		}
	}
}

func TestSharedStore(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"main.hcl": `store "fleet" {
  shared = true
  local {
    path = "/srv/fleet"
  }
}
`}, LoadOptions{})
	if !cfg.Stores["fleet"].Shared {
		t.Errorf("store.fleet is not shared: %+v", cfg.Stores["fleet"])
	}
	for name, st := range cfg.Stores {
		if name != "fleet" && st.Shared {
			t.Errorf("store.%s is shared without saying so", name)
		}
	}
}

func TestS3Timeouts(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"main.hcl": `store "a" {
  s3 {
    bucket           = "aip"
    connect_timeout  = "5s"
    response_timeout = "2m"
    idle_timeout     = "45s"
  }
}
store "b" {
  s3 {
    bucket = "aip"
  }
}
`}, LoadOptions{})
	a, b := cfg.Stores["a"].S3, cfg.Stores["b"].S3
	if a.ConnectTimeout != 5*time.Second || a.ResponseTimeout != 2*time.Minute || a.IdleTimeout != 45*time.Second {
		t.Errorf("timeouts of store.a: %+v", a)
	}
	if b.ConnectTimeout != 0 || b.ResponseTimeout != 0 || b.IdleTimeout != 0 {
		t.Errorf("timeouts of store.b: %+v, want zero (the store's defaults)", b)
	}
}

func TestDeferSecrets(t *testing.T) {
	dir := writeConfig(t, map[string]string{"main.hcl": `variable "pw" {
  type      = string
  sensitive = true
}
variable "host" {
  type = string
}
database "css" {
  host     = var.host
  password = var.pw
}
`})
	cfg, diags := Load(dir, LoadOptions{DeferSecrets: true, Getenv: func(string) string { return "" }, Vars: map[string]string{"host": "db1"}})
	if diags.HasErrors() {
		t.Fatalf("deferred secret reported: %v", diags)
	}
	pw := cfg.Databases["css"].Password
	if pw.Missing() != "pw" || pw.Reveal() != "" || pw.IsZero() {
		t.Fatalf("password = %#v (missing %q), want one that names variable pw", pw, pw.Missing())
	}
	// A non-sensitive variable without a value is still an error.
	_, diags = Load(dir, LoadOptions{DeferSecrets: true, Getenv: func(string) string { return "" }})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"host"`) {
		t.Fatalf("missing non-sensitive variable: %v", diags)
	}
	// Without DeferSecrets the missing password is an error as before.
	_, diags = Load(dir, LoadOptions{Getenv: func(string) string { return "" }, Vars: map[string]string{"host": "db1"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"pw"`) {
		t.Fatalf("missing password without DeferSecrets: %v", diags)
	}
}
