package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// baseHCL is a valid database and store that test configurations build on;
// it is written as base.hcl next to the case's main.hcl.
const baseHCL = `database "css" {
  host = "localhost"
}
store "node" {
  local { path = "/backups" }
}
`

// writeConfig writes files into a new temporary directory.
func writeConfig(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// diagLines renders diags as "summary @ file:line:col" (file relative to
// dir), or "summary" for diagnostics without a subject.
func diagLines(dir string, diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		sev := ""
		if d.Severity == hcl.DiagWarning {
			sev = "warning: "
		}
		if d.Subject == nil {
			out = append(out, sev+d.Summary)
			continue
		}
		name, err := filepath.Rel(dir, d.Subject.Filename)
		if err != nil {
			name = d.Subject.Filename
		}
		out = append(out, fmt.Sprintf("%s%s @ %s:%d:%d", sev, d.Summary, name, d.Subject.Start.Line, d.Subject.Start.Column))
	}
	return out
}

func TestDiagnostics(t *testing.T) {
	tests := map[string]struct {
		main    string            // main.hcl; base.hcl is baseHCL unless noBase
		noBase  bool              // leave base.hcl out
		opts    LoadOptions       // Getenv defaults to an empty environment
		want    []string          // diagLines
		details map[string]string // summary → a substring of its detail
	}{
		"syntax error": {
			main: "application \"A\" {\n  database = \n}\n",
			want: []string{"Invalid expression @ main.hcl:2:14"},
		},
		"unknown block type": {
			main: "backup \"x\" {\n}\n",
			want: []string{"Unsupported block type @ main.hcl:1:1"},
		},
		"unknown attribute": {
			main: "database \"pg\" {\n  host = \"h\"\n  hots = \"x\"\n}\n",
			want: []string{"Unsupported argument @ main.hcl:3:3"},
		},
		"unknown attribute in nested block": {
			main: "store \"s3\" {\n  s3 {\n    bucket = \"b\"\n    secret = \"x\"\n  }\n}\n",
			want: []string{"Unsupported argument @ main.hcl:4:5"},
		},
		"top-level attribute": {
			main: "parallelism = 3\n",
			want: []string{"Unsupported argument @ main.hcl:1:1"},
		},
		"missing required attribute": {
			main: "database \"pg\" {\n  port = 5433\n}\n",
			want: []string{"Missing required argument @ main.hcl:1:15"},
		},
		"required attribute set to null": {
			main: "database \"pg\" {\n  host = null\n}\nstore \"s\" {\n  local { path = null }\n}\nmeasurement \"m\" {\n  database = database.pg\n  schema = \"m\"\n  every = \"24h\"\n  stores = [store.s]\n}\n",
			want: []string{"Missing required value @ main.hcl:2:10", "Missing required value @ main.hcl:5:18"},
		},
		"missing schemas": {
			main: "application \"A\" {\n  database = database.css\n}\n",
			want: []string{"Missing required argument @ main.hcl:1:17"},
		},
		"undeclared database": {
			main:    "application \"A\" {\n  database = database.nope\n  schemas = { management = \"a_mngt\" }\n}\n",
			want:    []string{"Reference to undeclared database @ main.hcl:2:14"},
			details: map[string]string{"Reference to undeclared database": `A database named "nope" has not been declared.`},
		},
		"undeclared variable and local": {
			main: "locals {\n  a = var.nope\n  b = local.nope\n}\n",
			want: []string{
				"Reference to undeclared input variable @ main.hcl:2:7",
				"Reference to undeclared local value @ main.hcl:3:7",
			},
		},
		"unknown root name": {
			main: "locals {\n  a = foo.bar\n}\n",
			want: []string{"Reference to unknown name @ main.hcl:2:7"},
		},
		"reference without a name": {
			main: "locals {\n  a = database\n}\n",
			want: []string{"Invalid reference @ main.hcl:2:7"},
		},
		"wrong kind of store": {
			main:    "application \"A\" {\n  database = database.css\n  schemas = { management = \"a_mngt\" }\n  stores = [store.node, database.css]\n}\n",
			want:    []string{"Wrong kind of reference @ main.hcl:4:25"},
			details: map[string]string{"Wrong kind of reference": "Expected a store, got database.css."},
		},
		"wrong kind of database": {
			main:    "measurement \"m\" {\n  database = store.node\n  schema = \"m\"\n}\n",
			want:    []string{"Wrong kind of reference @ main.hcl:2:14"},
			details: map[string]string{"Wrong kind of reference": "Expected a database, got store.node."},
		},
		"string instead of reference": {
			main:    "measurement \"m\" {\n  database = \"css\"\n  schema = \"m\"\n}\n",
			want:    []string{"Wrong kind of reference @ main.hcl:2:14"},
			details: map[string]string{"Wrong kind of reference": "Expected a database (database.<name>), got a string."},
		},
		"wrong kind of retention": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  retention = store.node\n}\n",
			want: []string{"Wrong kind of reference @ main.hcl:4:15"},
		},
		"local cycle": {
			main: "locals {\n  a = local.b\n  b = \"${local.c}x\"\n  c = local.a\n}\n",
			want: []string{"Reference cycle @ main.hcl:4:7"},
			details: map[string]string{
				"Reference cycle": "local.a refers to itself: local.a → local.b → local.c → local.a.",
			},
		},
		"self reference": {
			main: "locals {\n  a = local.a\n}\n",
			want: []string{"Reference cycle @ main.hcl:2:7"},
		},
		"cycle through a database": {
			main: "locals {\n  h = database.pg.port\n}\ndatabase \"pg\" {\n  host = \"h\"\n  port = local.h\n}\n",
			// database.pg is evaluated first (name order), so the cycle
			// closes at the local's reference.
			want: []string{"Reference cycle @ main.hcl:2:7"},
		},
		"duplicate database": {
			main:    "database \"css\" {\n  host = \"other\"\n}\n",
			want:    []string{"Duplicate database block @ main.hcl:1:10"},
			details: map[string]string{"Duplicate database block": "base.hcl:1,1-15"},
		},
		"duplicate application": {
			main: "application \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n}\napplication \"A\" {\n  database = database.css\n  schemas = { management = \"b\" }\n}\n",
			want: []string{"Duplicate application block @ main.hcl:5:13"},
		},
		"duplicate local": {
			main: "locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n",
			want: []string{"Duplicate local value definition @ main.hcl:5:3"},
		},
		"duplicate planb block": {
			main: "planb {\n  parallelism = 2\n}\nplanb {\n  parallelism = 3\n}\n",
			want: []string{"Duplicate planb block @ main.hcl:4:1"},
		},
		"invalid block name": {
			main: "database \"my db\" {\n  host = \"h\"\n}\n",
			want: []string{"Invalid name @ main.hcl:1:10"},
		},
		"duplicate name after for_each": {
			main: "application \"MAINFRAME\" {\n  database = database.css\n  schemas = { management = \"m\" }\n}\n" +
				"application \"all\" {\n  for_each = toset([\"MAINFRAME\", \"WEB\"])\n  database = database.css\n  schemas = { management = \"${lower(each.key)}_x\" }\n}\n",
			want:    []string{"Duplicate application name @ main.hcl:6:14"},
			details: map[string]string{"Duplicate application name": `application.MAINFRAME and application.all["MAINFRAME"] both have the name "MAINFRAME".`},
		},
		"duplicate name through name attribute": {
			main: "application \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n}\n" +
				"application \"B\" {\n  name = \"A\"\n  database = database.css\n  schemas = { management = \"b\" }\n}\n",
			want: []string{"Duplicate application name @ main.hcl:6:10"},
		},
		"schema claimed twice": {
			main: "application \"A\" {\n  database = database.css\n  schemas = { management = \"a_mngt\", dashboard = \"shared\" }\n}\n" +
				"measurement \"m\" {\n  database = database.css\n  schema = \"shared\"\n}\n",
			want:    []string{"Schema claimed twice @ main.hcl:7:12"},
			details: map[string]string{"Schema claimed twice": `Schema "shared" of database "postgres" on localhost:5432 is already backed up by application.A (dashboard)`},
		},
		"schema claimed through another database block": {
			main: "database \"same\" {\n  host = \"localhost\"\n  port = 5432\n}\n" +
				"application \"A\" {\n  database = database.css\n  schemas = { management = \"x\" }\n}\n" +
				"application \"B\" {\n  database = database.same\n  schemas = { management = \"x\" }\n}\n",
			want: []string{"Schema claimed twice @ main.hcl:11:13"},
		},
		"schema claimed twice offline": {
			main: "variable \"pw\" {\n  sensitive = true\n}\ndatabase \"pg\" {\n  host = \"db\"\n  password = var.pw\n}\n" +
				"application \"all\" {\n  for_each = toset([\"A\", \"B\"])\n  database = database.pg\n  schemas = { management = \"${each.key}_mngt\", dashboard = \"shared\" }\n}\n",
			opts: LoadOptions{Offline: true},
			want: []string{"Schema claimed twice @ main.hcl:11:13"},
		},
		"claims skipped for an unknown server": {
			main: "variable \"host\" {\n  type = string\n}\ndatabase \"pg\" {\n  host = var.host\n}\n" +
				"application \"all\" {\n  for_each = toset([\"A\", \"B\"])\n  database = database.pg\n  schemas = { management = \"shared\" }\n}\n",
			opts: LoadOptions{Offline: true},
		},
		"same schema name on another port": {
			main: "database \"other\" {\n  host = \"localhost\"\n  port = 5433\n}\n" +
				"application \"A\" {\n  database = database.css\n  schemas = { management = \"x\" }\n}\n" +
				"application \"B\" {\n  database = database.other\n  schemas = { management = \"x\" }\n}\n",
		},
		"database claimed twice": {
			main: "persistence \"a\" {\n  database = database.css\n}\npersistence \"b\" {\n  database = database.css\n}\n",
			want: []string{"Database claimed twice @ main.hcl:4:13"},
		},
		"invalid durations": {
			main: "application \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n  every = \"7 days\"\n  retention {\n    keep_last = 1\n    keep_within = \"-3h\"\n  }\n}\n",
			want: []string{
				"Invalid duration @ main.hcl:4:11",
				"Invalid duration @ main.hcl:7:19",
			},
			details: map[string]string{"Invalid duration": `"7 days" is not a duration`},
		},
		"retention keeps nothing": {
			main: "retention \"none\" {\n  keep_last = 0\n}\n",
			want: []string{"Retention keeps nothing @ main.hcl:1:1"},
		},
		"inline retention keeps nothing": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  retention {\n  }\n}\n",
			want: []string{"Retention keeps nothing @ main.hcl:4:3"},
		},
		"negative keep": {
			main: "retention \"r\" {\n  keep_last = -1\n}\n",
			want: []string{"Invalid value @ main.hcl:2:15"},
		},
		"retention attribute and block": {
			main: "retention \"std\" {\n  keep_last = 1\n}\nmeasurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  retention = retention.std\n  retention {\n    keep_last = 2\n  }\n}\n",
			want: []string{"Conflicting retention @ main.hcl:7:15"},
		},
		"variable validation": {
			main:    "variable \"root\" {\n  type = string\n  default = \"relative\"\n  validation {\n    condition = startswith(var.root, \"/\")\n    error_message = \"root must be absolute.\"\n  }\n}\n",
			want:    []string{"Invalid value for variable @ main.hcl:5:17"},
			details: map[string]string{"Invalid value for variable": "root must be absolute."},
		},
		"variable validation refers to a local": {
			main: "locals {\n  x = 1\n}\nvariable \"n\" {\n  default = 1\n  validation {\n    condition = var.n > local.x\n    error_message = \"too small\"\n  }\n}\n",
			want: []string{"Invalid reference in variable validation @ main.hcl:7:25"},
		},
		"sensitive value in a printed field": {
			main: "variable \"secret\" {\n  type = string\n  sensitive = true\n  default = \"hunter2\"\n}\n" +
				"application \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n  delivery_folder = \"/data/${var.secret}\"\n}\n",
			want: []string{"Sensitive value in a printed field @ main.hcl:9:21"},
		},
		"sensitive value in sql": {
			main: "variable \"secret\" {\n  sensitive = true\n}\n" +
				"application \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n  after_restore {\n    sql = \"SELECT '${var.secret}'\"\n  }\n}\n",
			opts: LoadOptions{Offline: true},
			want: []string{"Sensitive value in a printed field @ main.hcl:8:11"},
		},
		"sensitive value in a local used for a host": {
			main: "variable \"secret\" {\n  sensitive = true\n  default = \"x\"\n}\nlocals {\n  h = upper(var.secret)\n}\ndatabase \"pg\" {\n  host = local.h\n}\n",
			want: []string{"Sensitive value in a printed field @ main.hcl:9:10"},
		},
		"no value for required variable": {
			main: "variable \"password\" {\n  type = string\n}\n",
			want: []string{"No value for required variable @ main.hcl:1:1"},
		},
		"value for undeclared variable": {
			opts: LoadOptions{Vars: map[string]string{"nope": "1"}},
			want: []string{"Value for undeclared variable"},
		},
		"invalid value for typed variable": {
			main: "variable \"n\" {\n  type = number\n}\n",
			opts: LoadOptions{Vars: map[string]string{"n": "many"}},
			want: []string{"Invalid value for variable"},
		},
		"invalid default": {
			main: "variable \"n\" {\n  type = number\n  default = \"x\"\n}\n",
			want: []string{"Invalid default value for variable @ main.hcl:3:13"},
		},
		"each outside for_each": {
			main: "application \"A\" {\n  database = database.css\n  schemas = { management = each.key }\n}\n",
			want: []string{`Reference to "each" in context without for_each @ main.hcl:3:28`},
		},
		"resource reference outside depends_on": {
			main: "application \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n}\nlocals {\n  x = application.A\n}\n",
			want: []string{"Invalid reference @ main.hcl:6:7"},
		},
		"invalid resource name": {
			main: "application \"A\" {\n  name = \"../etc\"\n  database = database.css\n  schemas = { management = \"a\" }\n}\n" +
				"application \"B\" {\n  for_each = toset([\".hidden\"])\n  database = database.css\n  schemas = { management = \"b\" }\n}\n",
			want: []string{
				"Invalid resource name @ main.hcl:2:10",
				"Invalid resource name @ main.hcl:7:14",
			},
			details: map[string]string{"Invalid resource name": "cannot be used for folders and archive files"},
		},
		"for_each list": {
			main:    "application \"A\" {\n  for_each = [\"a\", \"b\"]\n  database = database.css\n  schemas = { management = each.key }\n}\n",
			want:    []string{"Invalid for_each argument @ main.hcl:2:14"},
			details: map[string]string{"Invalid for_each argument": "toset("},
		},
		"for_each sensitive": {
			main: "variable \"apps\" {\n  type = set(string)\n  default = [\"a\"]\n  sensitive = true\n}\napplication \"A\" {\n  for_each = var.apps\n  database = database.css\n  schemas = { management = each.key }\n}\n",
			want: []string{"Invalid for_each argument @ main.hcl:7:14"},
		},
		"unknown schema role": {
			main: "application \"A\" {\n  database = database.css\n  schemas = {\n    management = \"a_mngt\"\n    measure = \"a_m\"\n  }\n}\n",
			want: []string{"Unknown schema role @ main.hcl:5:5"},
		},
		"no schemas": {
			main: "application \"A\" {\n  database = database.css\n  schemas = {}\n}\n",
			want: []string{"No schemas @ main.hcl:3:13"},
		},
		"store with local and s3": {
			main: "store \"both\" {\n  local { path = \"/x\" }\n  s3 { bucket = \"b\" }\n}\n",
			want: []string{"Invalid store @ main.hcl:1:1"},
		},
		"store without a kind": {
			main: "store \"none\" {\n}\n",
			want: []string{"Invalid store @ main.hcl:1:1"},
		},
		"no store configured": {
			noBase: true,
			main:   "database \"css\" {\n  host = \"h\"\n}\napplication \"A\" {\n  database = database.css\n  schemas = { management = \"a\" }\n}\n",
			want:   []string{"No store configured @ main.hcl:4:1"},
		},
		"empty stores": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  stores = []\n}\n",
			want: []string{"No stores @ main.hcl:4:12"},
		},
		"duplicate store in list": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  stores = [store.node, store.node]\n}\n",
			want: []string{"Duplicate store reference @ main.hcl:4:25"},
		},
		"depends_on undeclared": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  depends_on = [application.nope, persistence.m]\n}\n",
			want: []string{
				"Reference to undeclared resource @ main.hcl:4:17",
				"Reference to undeclared resource @ main.hcl:4:35",
			},
		},
		"depends_on undeclared instance": {
			main: "application \"all\" {\n  for_each = { A = \"a\" }\n  database = database.css\n  schemas = { management = each.value }\n}\n" +
				"measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  depends_on = [application.all[\"B\"]]\n}\n",
			want: []string{"Reference to undeclared resource @ main.hcl:9:17"},
		},
		"depends_on not a reference": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  depends_on = [\"application.x\", database.css]\n}\n",
			want: []string{
				"Invalid depends_on reference @ main.hcl:4:17",
				"Invalid depends_on reference @ main.hcl:4:34",
			},
		},
		"dependency cycle": {
			main: "measurement \"a\" {\n  database = database.css\n  schema = \"a\"\n  depends_on = [measurement.b]\n}\n" +
				"measurement \"b\" {\n  database = database.css\n  schema = \"b\"\n  depends_on = [measurement.a]\n}\n",
			want:    []string{"Dependency cycle @ main.hcl:9:17"},
			details: map[string]string{"Dependency cycle": "measurement.a → measurement.b → measurement.a"},
		},
		"persistence with database and path": {
			main: "persistence \"p\" {\n  database = database.css\n  path = \"/var/lib/h2\"\n}\n",
			want: []string{"Conflicting persistence source @ main.hcl:3:10"},
		},
		"persistence without source": {
			main: "persistence \"p\" {\n  every = \"1h\"\n}\n",
			want: []string{"Missing persistence source @ main.hcl:1:1"},
		},
		"hooks around a database dump": {
			main: "persistence \"p\" {\n  database = database.css\n  before {\n    command = [\"true\"]\n  }\n}\n",
			want: []string{"Hooks without a folder @ main.hcl:3:3"},
		},
		"empty command": {
			main: "persistence \"p\" {\n  path = \"/h2\"\n  before {\n    command = []\n  }\n}\n",
			want: []string{"Empty command @ main.hcl:4:15"},
		},
		"after_restore with sql and command": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  after_restore \"x\" {\n    sql = \"SELECT 1\"\n    command = [\"true\"]\n  }\n}\n",
			want: []string{"Invalid after_restore hook @ main.hcl:4:3"},
		},
		"after_restore with two labels": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  after_restore \"x\" \"y\" {\n    sql = \"SELECT 1\"\n  }\n}\n",
			want: []string{"Extraneous label for after_restore @ main.hcl:4:21"},
		},
		"duplicate after_restore names": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  after_restore \"x\" {\n    sql = \"SELECT 1\"\n  }\n  after_restore \"x\" {\n    sql = \"SELECT 2\"\n  }\n}\n",
			want: []string{"Duplicate after_restore hook @ main.hcl:7:17"},
		},
		"after_restore sql without database": {
			main: "persistence \"p\" {\n  path = \"/h2\"\n  after_restore {\n    sql = \"SELECT 1\"\n  }\n}\n",
			want: []string{"Missing database for after_restore sql @ main.hcl:3:3"},
		},
		"unknown attribute in after_restore": {
			main: "measurement \"m\" {\n  database = database.css\n  schema = \"m\"\n  after_restore {\n    query = \"SELECT 1\"\n  }\n}\n",
			want: []string{
				"Invalid after_restore hook @ main.hcl:4:3",
				"Unsupported argument @ main.hcl:5:5",
			},
		},
		"invalid sslmode and port": {
			main: "database \"pg\" {\n  host = \"h\"\n  port = 70000\n  sslmode = \"sometimes\"\n}\n",
			want: []string{
				"Invalid value @ main.hcl:3:10",
				"Invalid sslmode @ main.hcl:4:13",
			},
		},
		"incorrect type": {
			main: "database \"pg\" {\n  host = \"h\"\n  port = [1]\n}\n",
			want: []string{"Incorrect attribute value type @ main.hcl:3:10"},
		},
		"function error": {
			main: "locals {\n  x = file(\"missing.txt\")\n}\n",
			want: []string{"Error in function call @ main.hcl:2:7"},
		},
		"unknown function": {
			main: "locals {\n  x = nope(1)\n}\n",
			want: []string{"Call to unknown function @ main.hcl:2:7"},
		},
		"all problems in one run": {
			main: "backup {\n}\nlocals {\n  a = var.nope\n}\nretention \"r\" {\n  keep_daily = 0\n}\n" +
				"application \"A\" {\n  database = database.nope\n  schemas = { management = \"a\" }\n  every = \"soon\"\n}\n",
			want: []string{
				"Unsupported block type @ main.hcl:1:1",
				"Reference to undeclared input variable @ main.hcl:4:7",
				"Retention keeps nothing @ main.hcl:6:1",
				"Reference to undeclared database @ main.hcl:10:14",
				"Invalid duration @ main.hcl:12:11",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"main.hcl": tc.main}
			if !tc.noBase {
				files["base.hcl"] = baseHCL
			}
			dir := writeConfig(t, files)
			opts := tc.opts
			if opts.Getenv == nil {
				opts.Getenv = func(string) string { return "" }
			}
			_, diags := Load(dir, opts)
			got := diagLines(dir, diags)
			if !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics:\n  got  %q\n  want %q", got, tc.want)
			}
			for summary, want := range tc.details {
				found := false
				for _, d := range diags {
					if d.Summary == summary && strings.Contains(d.Detail, want) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %q diagnostic with detail containing %q in\n%s", summary, want, diagText(t, nil, diags))
				}
			}
		})
	}
}
