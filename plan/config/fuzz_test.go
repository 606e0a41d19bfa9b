package config

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fuzzSecret is the value of the sensitive variable fuzz_secret the fuzz targets set;
// it must never appear in diagnostics.
const fuzzSecret = "Zq7-canary-Xw3"

// fuzzSeeds are configurations to start fuzzing from: the examples, the base of the
// tests, and snippets for every kind of block, expression and mistake.
func fuzzSeeds(tb testing.TB) []string {
	seeds := []string{
		baseHCL,
		"",
		"\xef\xbb\xbflocals {\n  a = 1\n}\n",
		"locals {\n  x = \"${var.fuzz_secret}\"\n  n = tonumber(var.fuzz_secret)\n  f = file(var.fuzz_secret)\n}\n",
		"locals {\n  t = <<-EOT\n    %{for k, v in {a = 1}}${k}=${v}%{endfor}\n    %{if true}yes%{else}no%{endif}\n  EOT\n}\n",
		"locals {\n  a = [for i in range(3) : i * 2 if i > 0]\n  b = {for k, v in {x = 1} : upper(k) => -v...}\n  c = (1 + 2) * 3 % 2 == 1 ? !true : false || true && null == null\n}\n",
		"locals {\n  s = [{a = [1]}][0].a[*]\n  j = jsondecode(\"{\\\"a\\\": [1, 2]}\")\n  r = regex_replace(\"abc\", \"b\", \"$0$0\")\n}\n",
		"variable \"list\" {\n  type    = list(object({ a = string, b = optional(number, 1) }))\n  default = [{ a = \"x\" }]\n  validation {\n    condition     = length(var.list) > 0\n    error_message = \"Empty.\"\n  }\n}\n",
		"application \"A\" {\n  database = database.css\n  schemas  = { management = \"a_mngt\", dashboard = \"a_central\", analysis = \"a_local\" }\n  stores   = [store.node]\n  every    = \"24h\"\n}\n",
		"application \"all\" {\n  for_each = toset([\"A\", \"B\"])\n  database = database.css\n  schemas  = { management = \"${lower(each.key)}_mngt\" }\n}\n",
		"store \"s3\" {\n  s3 {\n    bucket = \"b\"\n  }\n}\nretention \"r\" {\n  keep_last = 3\n}\n",
		"persistence \"p\" {\n  path = \"/h2\"\n  before {\n    command = [\"echo\", var.fuzz_secret]\n  }\n}\n",
		"locals {\n  a = \n}\n",
		"locals {\n  a = \"unterminated\n}\n",
		"locals {\n  a = <<EOT\nno end\n",
		"database \"x\" \"y\" {\n}\n",
		"locals {\n  x = " + strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting) + "\n}\n",
	}
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		tb.Fatal(err)
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		var all []byte
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, string(src))
			all = append(all, src...)
		}
		if len(files) > 1 {
			seeds = append(seeds, string(all))
		}
	}
	return seeds
}

// FuzzLoad loads arbitrary source next to a file declaring the sensitive variable
// fuzz_secret. Load must not panic, must return diagnostics in the documented order with
// ranges inside the files, must report an error whenever it returns no configuration, and
// must never show the secret; diagnostics must render as text and JSON.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	secretDecl := "variable \"fuzz_secret\" {\n  type      = string\n  sensitive = true\n}\n"
	f.Fuzz(func(t *testing.T, src string, offline bool) {
		dir := t.TempDir()
		// The declaration comes first, so that src cannot declare the variable again
		// without being the duplicate.
		files := map[string][]byte{
			filepath.Join(dir, "0secret.hcl"): []byte(secretDecl),
			filepath.Join(dir, "main.hcl"):    []byte(src),
		}
		for name, b := range files {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		opts := LoadOptions{
			Vars:    map[string]string{"fuzz_secret": fuzzSecret},
			Getenv:  func(string) string { return "" },
			Offline: offline,
		}
		cfg, diags := Load(dir, opts)
		if cfg == nil && !diags.HasErrors() {
			t.Fatalf("no configuration and no error: %v", diags)
		}
		checkDiagnostics(t, files, diags)
		checkSorted(t, diags)

		hclFiles := map[string]*hcl.File{}
		for name, b := range files {
			hclFiles[name] = &hcl.File{Bytes: b}
		}
		var text bytes.Buffer
		if err := WriteDiagnostics(&text, hclFiles, diags, false, 100); err != nil {
			t.Fatalf("WriteDiagnostics: %v", err)
		}
		doc, err := DiagnosticsJSON(diags)
		if err != nil {
			t.Fatalf("DiagnosticsJSON: %v", err)
		}
		var parsed struct {
			Valid       bool `json:"valid"`
			ErrorCount  int  `json:"error_count"`
			Diagnostics []any
		}
		if err := json.Unmarshal(doc, &parsed); err != nil || len(parsed.Diagnostics) != len(diags) || parsed.Valid == diags.HasErrors() {
			t.Fatalf("DiagnosticsJSON wrote %s (%v)", doc, err)
		}
		// The secret could only be spelled out by src itself.
		if !strings.Contains(strings.ToLower(src), "canary") {
			for _, out := range []string{text.String(), string(doc)} {
				if strings.Contains(out, fuzzSecret) {
					t.Fatalf("the secret leaked:\n%s", out)
				}
			}
		}
		if cfg != nil && !diags.HasErrors() {
			cfg2, _ := Load(dir, opts)
			if cfg2 == nil || cfg2.Digest != cfg.Digest || cfg.Digest == "" {
				t.Fatalf("digest %q, then %v", cfg.Digest, cfg2)
			}
		}
	})
}

// checkDiagnostics checks that every diagnostic says what and where, within the files.
func checkDiagnostics(t *testing.T, files map[string][]byte, diags hcl.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		if d.Severity != hcl.DiagError && d.Severity != hcl.DiagWarning || d.Summary == "" {
			t.Fatalf("diagnostic without severity or summary: %#v", d)
		}
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil {
				continue
			}
			src, ok := files[r.Filename]
			if !ok || r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > len(src) || r.Start.Line < 1 {
				t.Fatalf("diagnostic %q has the range %#v outside its file", d.Summary, *r)
			}
		}
	}
}

// checkSorted checks that diagnostics are sorted by position, those without one first,
// as Load promises.
func checkSorted(t *testing.T, diags hcl.Diagnostics) {
	t.Helper()
	sorted := slices.IsSortedFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		if c := strings.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	if !sorted {
		t.Fatalf("diagnostics not sorted by position: %v", diags)
	}
}

// FuzzFormat formats arbitrary source. A file with errors gives no output and
// diagnostics inside it; otherwise the output parses, is a fixed point of Format and
// differs from the source in spacing only.
func FuzzFormat(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add("a=1\nb   =   [1,2,\n3]\n  c{\nd=\"x\"\n}\n")
	f.Add("x = <<EOT\n  keep   this\nEOT\ny = {a=1,b=2}\n# comment   \n")
	f.Fuzz(func(t *testing.T, src string) {
		out, diags := Format([]byte(src), "f.hcl")
		if diags.HasErrors() {
			if out != nil {
				t.Fatal("output for a file with errors")
			}
			checkDiagnostics(t, map[string][]byte{"f.hcl": []byte(src)}, diags)
			return
		}
		again, diags := Format(out, "f.hcl")
		if diags.HasErrors() {
			t.Fatalf("formatted output does not parse: %v\n%s", diags, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("formatting twice changes the output:\n%q\n%q", out, again)
		}
		if a, b := significantTokens([]byte(src)), significantTokens(out); !slices.Equal(a, b) {
			t.Fatalf("formatting changed more than spacing:\n%q\n%q", a, b)
		}
	})
}

// significantTokens lists the tokens of src without spacing: type and bytes, with
// comments trimmed of trailing white space.
func significantTokens(src []byte) []string {
	tokens, _ := hclsyntax.LexConfig(src, "f.hcl", hcl.InitialPos)
	out := make([]string, 0, len(tokens))
	for _, tok := range tokens {
		b := tok.Bytes
		if tok.Type == hclsyntax.TokenComment {
			b = bytes.TrimRight(b, " \t\r\n")
		}
		out = append(out, tok.Type.String()+" "+string(b))
	}
	return out
}

// FuzzNesting checks the measure the nesting check is based on: it never exceeds the
// count of level bytes (which lets the check skip lexing), and for source that parses it
// bounds the depth of the syntax tree, which is how deeply the parser and evaluator
// recurse.
func FuzzNesting(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
	}
	for _, expr := range deepSources(4) {
		f.Add("locals {\n  x = "+expr+"\n}\n", false)
		f.Add(expr, true)
	}
	f.Add("a = b[c](d)[e].f[*].g\n", false)
	f.Add("{a = [for k, v in x : k => v... if !v]}", true)
	f.Fuzz(func(t *testing.T, src string, expr bool) {
		depth, _ := nestingDepth([]byte(src), "f.hcl", expr, math.MaxInt)
		if n := countLevelBytes([]byte(src)); depth > n {
			t.Fatalf("depth %d, but only %d level bytes", depth, n)
		}
		if depth > MaxNesting {
			return
		}
		var node hclsyntax.Node
		var diags hcl.Diagnostics
		if expr {
			node, diags = hclsyntax.ParseExpression([]byte(src), "f.hcl", hcl.InitialPos)
		} else {
			var file *hcl.File
			file, diags = hclsyntax.ParseConfig([]byte(src), "f.hcl", hcl.InitialPos)
			if file != nil {
				node = file.Body.(*hclsyntax.Body)
			}
		}
		if diags.HasErrors() {
			return
		}
		w := &depthWalker{}
		hclsyntax.Walk(node, w)
		if w.max > 3*depth+4 {
			t.Fatalf("a syntax tree %d deep measured as %d levels", w.max, depth)
		}
	})
}

// depthWalker records the depth of a syntax tree.
type depthWalker struct{ cur, max int }

func (w *depthWalker) Enter(hclsyntax.Node) hcl.Diagnostics {
	w.cur++
	w.max = max(w.max, w.cur)
	return nil
}

func (w *depthWalker) Exit(hclsyntax.Node) hcl.Diagnostics {
	w.cur--
	return nil
}
