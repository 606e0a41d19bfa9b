package catalog

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kinds of resources, the first level of a store's layout.
const (
	KindApplications = "applications"
	KindMeasurement  = "measurement"
	KindPersistence  = "persistence"
)

// Kinds lists every resource kind a store holds, in listing order.
var Kinds = []string{KindApplications, KindMeasurement, KindPersistence}

// Ref names a resource's folder in a store: <Kind>/<Name>/ where Kind is one
// of Kinds and Name is the resource's name (the application, measurement or
// persistence block label).
type Ref struct{ Kind, Name string }

// String returns "<kind>/<name>".
func (r Ref) String() string { return r.Kind + "/" + r.Name }

// Key returns the object key of file in the resource's folder:
// "<kind>/<name>/<file>".
func (r Ref) Key(file string) string { return r.Kind + "/" + r.Name + "/" + file }

// Validate checks that r can be used as a folder in any store: a known kind,
// and a name that is valid UTF-8, not empty, not "." or "..", without '/',
// '\\' or control characters.
func (r Ref) Validate() error {
	known := false
	for _, k := range Kinds {
		known = known || r.Kind == k
	}
	if !known {
		return fmt.Errorf("unknown resource kind %q (want one of %s)", r.Kind, strings.Join(Kinds, ", "))
	}
	if err := validName(r.Name); err != nil {
		return fmt.Errorf("resource name %q: %w", r.Name, err)
	}
	return nil
}

// validName checks one path segment.
func validName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return errors.New("not a name")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsAny(s, `/\`):
		return errors.New("contains a slash")
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}
