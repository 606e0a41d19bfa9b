package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// absurdDepth is far beyond MaxNesting and deep enough to exhaust the
// stack of the HCL parser, which the nesting check must prevent.
const absurdDepth = 60_000

// deepSources are expressions nesting n levels of each kind checkNesting
// counts.
func deepSources(n int) map[string]string {
	r := strings.Repeat
	return map[string]string{
		"brackets":     r("[", n) + r("]", n),
		"braces":       r("{a=", n) + "1" + r("}", n),
		"parentheses":  r("(", n) + "1" + r(")", n),
		"calls":        r("max(", n) + "1" + r(")", n),
		"interpolated": r(`"${`, n) + "1" + r(`}"`, n),
		"if":           `"` + r("%{if true}", n) + "x" + r("%{endif}", n) + `"`,
		"for":          `"` + r("%{for a in [1]}", n) + "x" + r("%{endfor}", n) + `"`,
		"not":          r("!", n) + "true",
		"minus":        r("-", n) + "1",
		"conditional":  r("true ? 1 : ", n) + "2",
		"plus":         r("1 + ", n) + "1",
		"postfix":      "local.x" + r("[local.k]", n),
		"index":        "local.x" + r("[local.x", n) + r("]", n),
		"unclosed":     r("[", n),
	}
}

func TestNestingTooDeep(t *testing.T) {
	for name, expr := range deepSources(absurdDepth) {
		t.Run(name, func(t *testing.T) {
			src := "locals {\n  x = " + expr + "\n}\n"
			want := fmt.Sprintf("deeper than %d levels", MaxNesting)

			out, diags := Format([]byte(src), "deep.hcl")
			checkNestingDiag(t, "Format", out, diags, want)

			dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "deep.hcl": src})
			cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
			if cfg != nil {
				t.Errorf("Load returned a configuration")
			}
			checkNestingDiag(t, "Load", nil, diags, want)
			if s := diags[0].Subject; s == nil || s.Filename != filepath.Join(dir, "deep.hcl") || s.Start.Line != 2 {
				t.Errorf("Load: diagnostic at %v, want deep.hcl line 2", s)
			}

			if name != "brackets" && name != "interpolated" {
				return
			}
			// A variables file and a --var value are refused alike.
			vars := filepath.Join(t.TempDir(), "deep.vars.hcl")
			if err := os.WriteFile(vars, []byte("list = "+expr+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			listVar := "variable \"list\" {\n  type    = any\n  default = []\n}\n"
			dir = writeConfig(t, map[string]string{"base.hcl": baseHCL, "v.hcl": listVar})
			_, diags = Load(dir, LoadOptions{VarFiles: []string{vars}, Getenv: func(string) string { return "" }})
			checkNestingDiag(t, "--var-file", nil, diags, want)

			dir = writeConfig(t, map[string]string{"base.hcl": baseHCL,
				"v.hcl": "variable \"list\" {\n  type = list(any)\n}\n"})
			_, diags = Load(dir, LoadOptions{Vars: map[string]string{"list": expr}, Getenv: func(string) string { return "" }})
			if !diags.HasErrors() || !strings.Contains(diags.Error(), "nested deeper than") {
				t.Errorf("--var: diagnostics %v, want nested deeper than", diags)
			}
		})
	}
}

func checkNestingDiag(t *testing.T, what string, out []byte, diags hcl.Diagnostics, want string) {
	t.Helper()
	if out != nil {
		t.Errorf("%s: output for a file nested too deeply", what)
	}
	if len(diags) == 0 {
		t.Fatalf("%s: no diagnostics", what)
	}
	d := diags[0]
	if d.Severity != hcl.DiagError || d.Summary != "Nesting too deep" || !strings.Contains(d.Detail, want) || d.Subject == nil {
		t.Fatalf("%s: diagnostics %v, want Nesting too deep with %q and a position", what, diags, want)
	}
}

// TestNestingWithinLimit checks that the nesting check leaves configurations
// alone that nest deeply but within the limit, or that only look deep:
// brackets in strings, heredocs and comments do not count.
func TestNestingWithinLimit(t *testing.T) {
	r := strings.Repeat
	// The locals block is the first level.
	for _, n := range []int{MaxNesting - 1, MaxNesting} {
		src := "locals {\n  x = " + r("[", n) + r("]", n) + "\n}\n"
		if diags := checkNesting([]byte(src), "deep.hcl", false); diags.HasErrors() != (n == MaxNesting) {
			t.Errorf("%d brackets in a block: %v", n, diags)
		}
	}
	// Every kind of level at half the limit (some count two per unit).
	for name, expr := range deepSources(MaxNesting/2 - 5) {
		t.Run(name, func(t *testing.T) {
			src := "locals {\n  x = " + expr + "\n}\n"
			_, fdiags := Format([]byte(src), "deep.hcl")
			dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "deep.hcl": src})
			_, ldiags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
			for _, d := range append(fdiags, ldiags...) {
				if d.Summary == "Nesting too deep" {
					t.Fatalf("refused: %v", d)
				}
			}
			if fdiags.HasErrors() != (name == "unclosed") {
				t.Errorf("Format: %v", fdiags)
			}
		})
	}

	var many strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&many, "  l%d = true ? 1 : 2 %s comment ?\n", i, []string{"#", "//"}[i%2])
	}
	looksDeep := `# ` + r("[", 5000) + `
/* ` + r("{", 5000) + ` */
// ` + r("(", 5000) + `
locals {
  quoted   = "` + r("[", 5000) + r("{", 5000) + `$${ not an interpolation %%{ not a directive"
  heredoc  = <<EOT
` + r("(", 5000) + `
  ${[1, [2, [3]]][0]}
EOT
  indented = <<-EOT
    %{if true}` + r("{", 5000) + `%{endif}
  EOT
  chain    = [for i in range(3) : i > 0 ? (i > 1 ? "two" : "one") : -i]
  neg      = - - 1
  sums     = [` + r("1 - -1, ", 5000) + `]
  calls    = [` + r(`[max(1, 2)][0], `, 5000) + `]
  strings  = [` + r(`"a ? b : c", `, 5000) + `]
  objects  = [` + r("{ a = true ? 1 : 2 },\n", 5000) + `]
` + many.String() + `}
`
	dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "deep.hcl": looksDeep})
	cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		t.Fatalf("diagnostics:\n%.3000s", diagText(t, files, diags))
	}
	if _, diags := Format([]byte(looksDeep), "deep.hcl"); diags.HasErrors() {
		t.Fatalf("Format: %v", diags)
	}

	// A deep but legitimate configuration loads and evaluates.
	deep := "locals {\n  x = " + r("[", 200) + r("{ a = ", 100) + `"${true ? "x" : "y"}"` + r(" }", 100) + r("]", 200) + "\n}\n"
	mustLoad(t, map[string]string{"deep.hcl": deep}, LoadOptions{})
}
