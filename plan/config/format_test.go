package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestFormat(t *testing.T) {
	tests := map[string]struct {
		in, want string
		wantErr  string
	}{
		"aligns and indents": {
			in:   "database \"css\" {\nhost = \"h\"\n    port=2284\n}\n",
			want: "database \"css\" {\n  host = \"h\"\n  port = 2284\n}\n",
		},
		"canonical stays": {
			in:   "store \"node\" {\n  local {\n    path = \"/b\"\n  }\n}\n",
			want: "store \"node\" {\n  local {\n    path = \"/b\"\n  }\n}\n",
		},
		"syntax error": {
			in:      "database \"css\" {\n  host = \n}\n",
			wantErr: "Invalid expression @ x.hcl:2:10",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, diags := Format([]byte(tc.in), "x.hcl")
			if tc.wantErr != "" {
				if out != nil {
					t.Errorf("want no output for a file with errors, got %q", out)
				}
				if got := diagLines("", diags); len(got) == 0 || got[0] != tc.wantErr {
					t.Errorf("diagnostics %q, want first %q", got, tc.wantErr)
				}
				return
			}
			if len(diags) > 0 || string(out) != tc.want {
				t.Errorf("Format = %q, %v; want %q", out, diags, tc.want)
			}
		})
	}
}

func TestDiagnosticsJSON(t *testing.T) {
	rng := &hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: 2, Column: 3, Byte: 10}, End: hcl.Pos{Line: 2, Column: 7, Byte: 14}}
	tests := map[string]struct {
		diags hcl.Diagnostics
		want  string
	}{
		"none": {
			want: `{"format_version":"1.0","valid":true,"error_count":0,"warning_count":0,"diagnostics":[]}`,
		},
		"error and warning": {
			diags: hcl.Diagnostics{
				{Severity: hcl.DiagError, Summary: "Bad", Detail: "Very bad.", Subject: rng},
				{Severity: hcl.DiagWarning, Summary: "Hm", Detail: "No range."},
			},
			want: `{"format_version":"1.0","valid":false,"error_count":1,"warning_count":1,"diagnostics":[` +
				`{"severity":"error","summary":"Bad","detail":"Very bad.","range":{"filename":"main.hcl","start":{"line":2,"column":3,"byte":10},"end":{"line":2,"column":7,"byte":14}}},` +
				`{"severity":"warning","summary":"Hm","detail":"No range."}]}`,
		},
		"warnings only are valid": {
			diags: hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Hm"}},
			want:  `{"format_version":"1.0","valid":true,"error_count":0,"warning_count":1,"diagnostics":[{"severity":"warning","summary":"Hm","detail":""}]}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := DiagnosticsJSON(tc.diags)
			if err != nil {
				t.Fatal(err)
			}
			var compact strings.Builder
			var v any
			if err := json.Unmarshal(doc, &v); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			compact.Write(b)
			// encoding/json sorts object keys when re-encoding a map, so
			// compare against the wanted document re-encoded the same way.
			var w any
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(w)
			if compact.String() != string(wb) {
				t.Errorf("got  %s\nwant %s", compact.String(), wb)
			}
			if !strings.HasPrefix(string(doc), "{\n  \"format_version\": \"1.0\",") {
				t.Errorf("format_version is not the first field:\n%s", doc)
			}
		})
	}
}

func TestWriteDiagnostics(t *testing.T) {
	dir := writeConfig(t, map[string]string{
		"base.hcl": baseHCL,
		"main.hcl": "application \"A\" {\n  database = database.css\n  schemas  = { management = \"a\" }\n  stores   = [database.css]\n}\n",
	})
	cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	var b strings.Builder
	if err := WriteDiagnostics(&b, cfg.Files, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
Error: Wrong kind of reference

  on %s/main.hcl line 4, in application "A":
   4:   stores   = [database.css]

Expected a store, got database.css.
`, dir)
	// The text writer underlines in color only; without color the snippet
	// line is what shows where.
	if strings.TrimSpace(b.String()) != strings.TrimSpace(want) {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
