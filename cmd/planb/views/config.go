package views

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/report"
)

// Diagnostics prints the problems of a configuration on standard error,
// with the source lines they point at: sources holds the files' bytes by
// name; a file missing there is read from disk.
func (v *View) Diagnostics(diags hcl.Diagnostics, sources map[string][]byte) error {
	if len(diags) == 0 {
		return nil
	}
	files := map[string]*hcl.File{}
	for name, src := range sources {
		files[name] = &hcl.File{Bytes: src}
	}
	for _, d := range diags {
		if d.Subject == nil {
			continue
		}
		name := d.Subject.Filename
		if _, done := files[name]; done {
			continue
		}
		if src, err := os.ReadFile(name); err == nil {
			files[name] = &hcl.File{Bytes: src}
		}
	}
	return config.WriteDiagnostics(v.Stderr, files, diags, v.ColorStderr(), 100)
}

// Validate shows what `planb validate` found.
type Validate interface {
	Validate(diags hcl.Diagnostics) error
}

// NewValidate returns the view of validate of the given kind.
func NewValidate(k Kind, v *View) Validate {
	if k == JSON {
		return &validateJSON{v}
	}
	return &validateHuman{v}
}

// validateHuman prints the diagnostics on standard error, and says so
// when the configuration is valid.
type validateHuman struct{ v *View }

func (h *validateHuman) Validate(diags hcl.Diagnostics) error {
	if err := h.v.Diagnostics(diags, nil); err != nil {
		return err
	}
	if !diags.HasErrors() {
		fmt.Fprintln(h.v.Stdout, "The configuration is valid.")
	}
	return nil
}

// validateJSON prints one JSON document (format_version 1.0).
type validateJSON struct{ v *View }

func (j *validateJSON) Validate(diags hcl.Diagnostics) error {
	doc, err := config.DiagnosticsJSON(diags)
	if err != nil {
		return err
	}
	fmt.Fprintln(j.v.Stdout, string(doc))
	return nil
}

// Fmt shows what `planb fmt` changed.
type Fmt interface {
	// Changed names a file that was (or, with --check, would be)
	// rewritten; with diff set it adds the unified diff from src to out.
	Changed(name string, src, out []byte, diff bool)
	// Formatted writes the formatted standard input.
	Formatted(out []byte) error
}

// NewFmt returns the view of fmt.
func NewFmt(v *View) Fmt { return &fmtHuman{v} }

type fmtHuman struct{ v *View }

func (h *fmtHuman) Changed(name string, src, out []byte, diff bool) {
	fmt.Fprintln(h.v.Stdout, name)
	if diff {
		fmt.Fprint(h.v.Stdout, unifiedDiff(name, string(src), string(out)))
	}
}

func (h *fmtHuman) Formatted(out []byte) error {
	_, err := h.v.Stdout.Write(out)
	return err
}

// Version prints planb's version line.
func (v *View) Version(version, goVersion, goos, goarch string) {
	fmt.Fprintf(v.Stdout, "planb %s (%s, %s/%s)\n", version, goVersion, goos, goarch)
}

// Graph prints the step graph of a plan as Graphviz DOT, for
// `planb graph`.
func (v *View) Graph(g *dag.Graph) error { return report.WriteDOT(v.Stdout, g) }
