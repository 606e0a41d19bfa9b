package files

import (
	"reflect"
	"strings"
	"testing"
)

func TestOptionsXMLRoundTrip(t *testing.T) {
	tests := map[string]Options{
		"full": {
			Application:       `MAIN<FRAME> & "Co" ünïcødé 日本`,
			SourcePath:        `/data/aip/delivery/MAINFRAME/v1.2 "quoted" <&>`,
			ExclusionPatterns: []string{"**/test/**", "a&b<c>d\"e'f", "  spaced  ", "tab\there\nnewline"},
			Objectives:        []string{"security", "Größe"},
			Extra:             map[string]string{"zeta": "last", "alpha": "<first & \"best\">", "mid\tname": ""},
		},
		"minimal": {Application: "APP"},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := OptionsXML(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ParseOptionsXML(b)
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, b)
			}
			if !reflect.DeepEqual(in, out) {
				t.Errorf("round trip changed options:\n in: %#v\nout: %#v\nxml:\n%s", in, out, b)
			}
			again, err := OptionsXML(out)
			if err != nil || string(again) != string(b) {
				t.Errorf("rendering is not stable: %v\n%s\n%s", err, b, again)
			}
		})
	}
}

func TestOptionsXMLGolden(t *testing.T) {
	b, err := OptionsXML(Options{
		Application:       "MAINFRAME",
		SourcePath:        "/src",
		ExclusionPatterns: []string{"**/test/**", "<&>"},
		Objectives:        []string{"security"},
		Extra:             map[string]string{"b": "2", "a": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<options version="1" application="MAINFRAME">
  <source-path>/src</source-path>
  <exclusion-patterns>
    <pattern>**/test/**</pattern>
    <pattern>&lt;&amp;&gt;</pattern>
  </exclusion-patterns>
  <objectives>
    <objective>security</objective>
  </objectives>
  <option name="a">1</option>
  <option name="b">2</option>
</options>
`
	if string(b) != want {
		t.Errorf("got:\n%s\nwant:\n%s", b, want)
	}
}

func TestOptionsXMLErrors(t *testing.T) {
	tests := map[string]struct {
		opts Options
		want string
	}{
		"control character": {Options{Application: "a\x00b"}, "application: character U+0000"},
		"invalid utf-8":     {Options{Objectives: []string{"\xff"}}, "objective: invalid UTF-8"},
		"empty option name": {Options{Extra: map[string]string{"": "x"}}, "empty name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := OptionsXML(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseOptionsXMLErrors(t *testing.T) {
	tests := map[string]struct {
		doc  string
		want string
	}{
		"not xml":          {"{}", "parse options XML"},
		"wrong root":       {`<settings application="x"/>`, "expected element type <options>"},
		"newer version":    {`<options version="2"/>`, "format version 2 is newer"},
		"duplicate option": {`<options><option name="a">1</option><option name="a">2</option></options>`, `option "a" given twice`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseOptionsXML([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
