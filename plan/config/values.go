package config

import (
	"fmt"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// body decodes the attributes of one evaluated block. Every getter
// appends its own diagnostics and returns the default for an absent, null
// or unknown (offline) value, so decoding goes on after a problem.
type body struct {
	l     *loader
	attrs hcl.Attributes
	ctx   *hcl.EvalContext
	sc    scope
	// secret lists the attributes that may hold sensitive values.
	secret map[string]bool
	// required lists the attributes that may not be null: the schema makes
	// them present, null would leave them unset.
	required map[string]bool
	// incomplete is set when a value was unknown or invalid, so that
	// checks over several attributes do not report a consequence.
	incomplete bool
}

func (l *loader) body(content *hcl.BodyContent, ctx *hcl.EvalContext, sc scope, secret ...string) *body {
	b := &body{l: l, attrs: content.Attributes, ctx: ctx, sc: sc}
	if len(secret) > 0 {
		b.secret = map[string]bool{}
		for _, s := range secret {
			b.secret[s] = true
		}
	}
	return b
}

// require marks attributes that may not be null.
func (b *body) require(names ...string) *body {
	if b.required == nil {
		b.required = map[string]bool{}
	}
	for _, n := range names {
		b.required[n] = true
	}
	return b
}

// raw evaluates attribute name without conversion. It reports false when
// the attribute is absent, null, not wholly known or failed.
func (b *body) raw(name string) (cty.Value, *hcl.Attribute, bool) {
	a, ok := b.attrs[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	v, ok := b.l.value(a.Expr, b.ctx, b.sc)
	if !ok {
		b.incomplete = true
		return cty.NilVal, a, false
	}
	if v.ContainsMarked() {
		if !b.secret[name] {
			b.l.errorf(a.Expr.Range().Ptr(), "Sensitive value in a printed field",
				"The value of %q comes from a sensitive variable, but %q is shown in plans and logs. Sensitive values may be used only for database password, s3 access_key and secret_key, and the url, headers and token of notify blocks.",
				name, name)
			b.incomplete = true
			return cty.NilVal, a, false
		}
		v, _ = v.UnmarkDeep()
	}
	if !v.IsWhollyKnown() {
		b.incomplete = true
	}
	if v.IsNull() && b.required[name] {
		b.l.errorf(a.Expr.Range().Ptr(), "Missing required value", "%q is null, but it is required.", name)
		b.incomplete = true
	}
	if v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, a, false
	}
	return v, a, true
}

// get evaluates attribute name and converts it to ty.
func (b *body) get(name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	v, a, ok := b.raw(name)
	if !ok {
		return v, a, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		b.l.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", name, err)
		b.incomplete = true
		return cty.NilVal, a, false
	}
	if cv.IsNull() || !cv.IsWhollyKnown() {
		return cty.NilVal, a, false
	}
	return cv, a, true
}

func (b *body) str(name, def string) string {
	v, _, ok := b.get(name, cty.String)
	if !ok {
		return def
	}
	return v.AsString()
}

// nonEmpty is str for attributes that may not be "".
func (b *body) nonEmpty(name, def string) string {
	v, a, ok := b.get(name, cty.String)
	if !ok {
		return def
	}
	if strings.TrimSpace(v.AsString()) == "" {
		b.l.errorf(a.Expr.Range().Ptr(), "Invalid value", "%q may not be empty.", name)
		b.incomplete = true
		return def
	}
	return v.AsString()
}

// path is nonEmpty for file system paths: relative paths are taken
// relative to the configuration directory.
func (b *body) path(name string) string {
	p := b.nonEmpty(name, "")
	if p != "" && !filepath.IsAbs(p) {
		p = filepath.Join(b.l.dir, p)
	}
	return p
}

// secretStr reads a sensitive attribute. When its value is unknown because
// it comes from a sensitive variable without a value (DeferSecrets), the
// secret names that variable.
func (b *body) secretStr(name string) Secret {
	if v := b.str(name, ""); v != "" {
		return NewSecret(v)
	}
	if missing := b.missingSecret(name); missing != "" {
		return Secret{missing: missing}
	}
	return Secret{}
}

// missingSecret names the sensitive variable without a value that
// attribute name refers to (DeferSecrets), or "".
func (b *body) missingSecret(name string) string {
	a, ok := b.attrs[name]
	if !ok || !b.l.opts.DeferSecrets {
		return ""
	}
	for _, tr := range a.Expr.Variables() {
		if tr.RootName() != "var" || len(tr) < 2 {
			continue
		}
		if attr, ok := tr[1].(hcl.TraverseAttr); ok {
			if v := b.l.vars[attr.Name]; v != nil && !v.decl.Set && v.decl.Sensitive {
				return attr.Name
			}
		}
	}
	return ""
}

func (b *body) boolean(name string, def bool) bool {
	v, _, ok := b.get(name, cty.Bool)
	if !ok {
		return def
	}
	return v.True()
}

// integer is a whole number in [lo, hi].
func (b *body) integer(name string, def, lo, hi int) int {
	v, a, ok := b.get(name, cty.Number)
	if !ok {
		return def
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || i < int64(lo) || i > int64(hi) {
		b.l.errorf(a.Expr.Range().Ptr(), "Invalid value",
			"%q must be a whole number from %d to %d, not %s.", name, lo, hi, bf.Text('g', -1))
		b.incomplete = true
		return def
	}
	return int(i)
}

// duration is a positive duration (Go syntax plus a d unit).
func (b *body) duration(name string, def time.Duration) time.Duration {
	v, a, ok := b.get(name, cty.String)
	if !ok {
		return def
	}
	d, err := ParseDuration(v.AsString())
	if err == nil && d <= 0 {
		err = fmt.Errorf("%q is not longer than zero", v.AsString())
	}
	if err != nil {
		b.l.errorf(a.Expr.Range().Ptr(), "Invalid duration", "Invalid value for %q: %s.", name, err)
		b.incomplete = true
		return def
	}
	return d
}

func (b *body) strList(name string) []string {
	v, a, ok := b.get(name, cty.List(cty.String))
	if !ok {
		return nil
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			b.l.errorf(a.Expr.Range().Ptr(), "Invalid value", "%q may not contain null.", name)
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

func (b *body) strMap(name string) map[string]string {
	v, a, ok := b.get(name, cty.Map(cty.String))
	if !ok {
		return nil
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			b.l.errorf(a.Expr.Range().Ptr(), "Invalid value", "%q may not contain null.", name)
			return nil
		}
		out[k.AsString()] = e.AsString()
	}
	return out
}

// ref resolves an attribute that must refer to an object of kind.
func (b *body) ref(name, kind string) (string, bool) {
	a, ok := b.attrs[name]
	if !ok {
		return "", false
	}
	v, ok := b.l.value(a.Expr, b.ctx, b.sc)
	if !ok {
		return "", false
	}
	return b.l.refName(kind, v, a.Expr.Range())
}

// durationUnits are the units ParseDuration knows, longest first where
// one is a prefix of another.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"ns", time.Nanosecond},
	{"us", time.Microsecond},
	{"µs", time.Microsecond},
	{"ms", time.Millisecond},
	{"s", time.Second},
	{"m", time.Minute},
	{"h", time.Hour},
	{"d", 24 * time.Hour},
}

// ParseDuration parses a Go duration with a d (24h) unit added: "36h",
// "7d", "1d12h", "90m". A sign is not allowed; "0" is zero.
func ParseDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("%q is not a duration: use numbers with units, such as \"36h\", \"7d\" or \"1d12h\" (units d, h, m, s, ms)", s)
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad()
	}
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return bad()
		}
		num := rest[:i]
		rest = rest[i:]
		unit := -1
		for j, u := range durationUnits {
			if strings.HasPrefix(rest, u.name) && (unit < 0 || len(u.name) > len(durationUnits[unit].name)) {
				unit = j
			}
		}
		if unit < 0 {
			return bad()
		}
		rest = rest[len(durationUnits[unit].name):]
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return bad()
		}
		part := f * float64(durationUnits[unit].d)
		if part > float64(1<<63-1)-float64(total) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total += time.Duration(part)
	}
	return total, nil
}
