package config

import (
	"encoding/json"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// DiagnosticsFormatVersion is the format_version of DiagnosticsJSON.
const DiagnosticsFormatVersion = "1.0"

// jsonDiagnostics is the document of `planb validate --json`.
type jsonDiagnostics struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// DiagnosticsJSON encodes diags as the `validate --json` document:
//
//	{"format_version":"1.0","valid":true,"error_count":0,"warning_count":0,
//	 "diagnostics":[{"severity":"error","summary":"…","detail":"…",
//	   "range":{"filename":"…","start":{"line":1,"column":1,"byte":0},"end":{…}}}]}
//
// range is left out for a diagnostic without a subject; diagnostics is
// [] (not null) when there are none.
func DiagnosticsJSON(diags hcl.Diagnostics) ([]byte, error) {
	doc := jsonDiagnostics{FormatVersion: DiagnosticsFormatVersion, Diagnostics: []jsonDiagnostic{}}
	for _, d := range diags {
		jd := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
			doc.WarningCount++
		} else {
			doc.ErrorCount++
		}
		if s := d.Subject; s != nil {
			jd.Range = &jsonRange{
				Filename: s.Filename,
				Start:    jsonPos{Line: s.Start.Line, Column: s.Start.Column, Byte: s.Start.Byte},
				End:      jsonPos{Line: s.End.Line, Column: s.End.Column, Byte: s.End.Byte},
			}
		}
		doc.Diagnostics = append(doc.Diagnostics, jd)
	}
	doc.Valid = doc.ErrorCount == 0
	return json.MarshalIndent(doc, "", "  ")
}

// WriteDiagnostics prints diags for a person: each with its source line
// and the offending range underlined (files maps file names to their
// contents; a missing file only loses the snippet), wrapped at width
// columns (0 = no wrapping), in color when color is set.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool, width uint) error {
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}
