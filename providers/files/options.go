package files

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"
)

// Options are the version-level options of an application, kept in a
// backup as options.xml.
type Options struct {
	Application       string
	SourcePath        string
	ExclusionPatterns []string
	Objectives        []string
	// Extra holds further named options; they are written sorted by name.
	Extra map[string]string
}

// optionsFormatVersion is written in the version attribute; ParseOptionsXML
// refuses documents from a newer format.
const optionsFormatVersion = 1

type xmlOptions struct {
	XMLName           xml.Name    `xml:"options"`
	Version           int         `xml:"version,attr"`
	Application       string      `xml:"application,attr"`
	SourcePath        string      `xml:"source-path"`
	ExclusionPatterns *xmlList    `xml:"exclusion-patterns"`
	Objectives        *xmlObjList `xml:"objectives"`
	Options           []xmlOption `xml:"option"`
}

type xmlList struct {
	Patterns []string `xml:"pattern"`
}

type xmlObjList struct {
	Objectives []string `xml:"objective"`
}

type xmlOption struct {
	Name  string `xml:"name,attr"`
	Value string `xml:",chardata"`
}

// OptionsXML renders o as an indented XML document:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<options version="1" application="…">
//	  <source-path>…</source-path>
//	  <exclusion-patterns><pattern>…</pattern>…</exclusion-patterns>
//	  <objectives><objective>…</objective>…</objectives>
//	  <option name="k">v</option>…
//	</options>
//
// Empty lists are left out; Extra is sorted by name, so equal options give
// equal bytes. Strings that XML 1.0 cannot hold (invalid UTF-8, control
// characters other than tab, newline and carriage return) are an error
// rather than silently replaced.
func OptionsXML(o Options) ([]byte, error) {
	doc := xmlOptions{Version: optionsFormatVersion, Application: o.Application, SourcePath: o.SourcePath}
	check := []struct{ what, s string }{{"application", o.Application}, {"source path", o.SourcePath}}
	if len(o.ExclusionPatterns) > 0 {
		doc.ExclusionPatterns = &xmlList{Patterns: o.ExclusionPatterns}
		for _, p := range o.ExclusionPatterns {
			check = append(check, struct{ what, s string }{"exclusion pattern", p})
		}
	}
	if len(o.Objectives) > 0 {
		doc.Objectives = &xmlObjList{Objectives: o.Objectives}
		for _, p := range o.Objectives {
			check = append(check, struct{ what, s string }{"objective", p})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Extra)) {
		if k == "" {
			return nil, errors.New("options XML: option with empty name")
		}
		doc.Options = append(doc.Options, xmlOption{Name: k, Value: o.Extra[k]})
		check = append(check, struct{ what, s string }{"option name", k}, struct{ what, s string }{fmt.Sprintf("option %q", k), o.Extra[k]})
	}
	for _, c := range check {
		if err := xmlRepresentable(c.s); err != nil {
			return nil, fmt.Errorf("options XML: %s: %w", c.what, err)
		}
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("options XML: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// xmlRepresentable reports an error when s holds characters outside the
// XML 1.0 Char production.
func xmlRepresentable(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("invalid UTF-8")
	}
	for _, r := range s {
		ok := r == '\t' || r == '\n' || r == '\r' ||
			r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
		if !ok {
			return fmt.Errorf("character %U cannot be represented in XML", r)
		}
	}
	return nil
}

// ParseOptionsXML reads a document written by OptionsXML. Duplicate option
// names, a root element other than <options> and a newer format version are
// errors.
func ParseOptionsXML(b []byte) (Options, error) {
	var doc xmlOptions
	if err := xml.Unmarshal(b, &doc); err != nil {
		return Options{}, fmt.Errorf("parse options XML: %w", err)
	}
	if doc.Version > optionsFormatVersion {
		return Options{}, fmt.Errorf("parse options XML: format version %d is newer than supported version %d", doc.Version, optionsFormatVersion)
	}
	o := Options{Application: doc.Application, SourcePath: doc.SourcePath}
	if doc.ExclusionPatterns != nil {
		o.ExclusionPatterns = doc.ExclusionPatterns.Patterns
	}
	if doc.Objectives != nil {
		o.Objectives = doc.Objectives.Objectives
	}
	for _, opt := range doc.Options {
		if o.Extra == nil {
			o.Extra = map[string]string{}
		}
		if _, dup := o.Extra[opt.Name]; dup {
			return Options{}, fmt.Errorf("parse options XML: option %q given twice", opt.Name)
		}
		o.Extra[opt.Name] = opt.Value
	}
	return o, nil
}
