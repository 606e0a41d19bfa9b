package config

import (
	"fmt"
	"os"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// marker is the type of the cty marks this package sets.
type marker string

// sensitiveMark is carried by values of sensitive variables and everything
// computed from them.
const sensitiveMark = marker("sensitive")

// EnvPrefix is the prefix of environment variables that set input
// variables: PLANB_VAR_<name>.
const EnvPrefix = "PLANB_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "sensitive"},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// variable is a declared input variable during evaluation.
type variable struct {
	decl        *Variable
	ty          cty.Type
	val         cty.Value // marked when sensitive
	validations []*hcl.BodyContent
	// invalid is set when a value was given but reported as unsuitable;
	// the variable is then unknown, not missing.
	invalid bool
}

// declareVariable decodes a variable block; its value is set later.
func (l *loader) declareVariable(b *hcl.Block) {
	name := b.Labels[0]
	v := &variable{
		decl: &Variable{Name: name, DeclRange: b.DefRange},
		ty:   cty.DynamicPseudoType,
		val:  cty.NilVal,
	}
	l.vars[name] = v
	l.cfg.Variables = append(l.cfg.Variables, v.decl)
	switch name {
	case "each", "count", "self":
		l.errorf(&b.LabelRanges[0], "Invalid variable name", "The name %q is reserved; choose another name.", name)
	}

	content, diags := b.Body.Content(variableSchema)
	l.diags = append(l.diags, diags...)
	if a, ok := content.Attributes["type"]; ok {
		ty, diags := typeexpr.TypeConstraint(a.Expr)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			v.ty = ty
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		if s, ok := l.constant(a, cty.String); ok {
			v.decl.Description = s.AsString()
		}
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		if s, ok := l.constant(a, cty.Bool); ok {
			v.decl.Sensitive = s.True()
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, diags := a.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			if cv, err := convert.Convert(val, v.ty); err != nil {
				l.errorf(a.Expr.Range().Ptr(), "Invalid default value for variable",
					"This default value is not compatible with the variable's type constraint: %s.", err)
				v.invalid = true
			} else {
				v.val = cv
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, diags := vb.Body.Content(validationSchema)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			v.validations = append(v.validations, vc)
		}
	}
}

// constant evaluates an attribute that may not refer to anything and
// converts it to ty; it reports false after appending diagnostics.
func (l *loader) constant(a *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	val, diags := a.Expr.Value(nil)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(val, ty)
	if err != nil || cv.IsNull() || !cv.IsKnown() {
		msg := "a value is required"
		if err != nil {
			msg = err.Error()
		}
		l.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", a.Name, msg)
		return cty.NilVal, false
	}
	return cv, true
}

// evalVariables sets every variable's value (default < environment <
// var files < --var), marks sensitive ones and runs validation rules.
func (l *loader) evalVariables() {
	for _, v := range l.vars {
		if v.val != cty.NilVal {
			v.decl.Set = true
		}
		raw := l.getenv(EnvPrefix + v.decl.Name)
		if raw != "" {
			l.setFromString(v, raw, "the environment variable "+EnvPrefix+v.decl.Name)
		}
	}
	for _, path := range l.opts.VarFiles {
		l.readVarFile(path)
	}
	names := make([]string, 0, len(l.opts.Vars))
	for name := range l.opts.Vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v, ok := l.vars[name]
		if !ok {
			l.errorf(nil, "Value for undeclared variable",
				"A value was given with --var for %q, but the configuration declares no variable of that name.", name)
			continue
		}
		l.setFromString(v, l.opts.Vars[name], "--var "+name)
	}

	vals := map[string]cty.Value{}
	for name, v := range l.vars {
		if !v.decl.Set {
			if !l.opts.Offline && !(l.opts.DeferSecrets && v.decl.Sensitive) && !v.invalid {
				l.errorf(&v.decl.DeclRange, "No value for required variable",
					"The variable %q has no default and no value was given. Set it with --var %s=…, in a --var-file, or in the environment variable %s%s.",
					name, name, EnvPrefix, name)
			}
			v.val = cty.UnknownVal(v.ty)
		}
		if v.decl.Sensitive {
			v.val = v.val.Mark(sensitiveMark)
		}
		vals[name] = v.val
	}
	l.varObj = cty.ObjectVal(vals)
	for _, v := range l.vars {
		for _, vc := range v.validations {
			l.validate(v, vc)
		}
	}
	sort.Slice(l.cfg.Variables, func(i, j int) bool { return l.cfg.Variables[i].Name < l.cfg.Variables[j].Name })
}

// setFromString sets a variable from a --var or environment value: taken
// literally for string (and untyped) variables, parsed as an HCL
// expression otherwise.
func (l *loader) setFromString(v *variable, raw, source string) {
	var val cty.Value
	if v.ty == cty.String || v.ty == cty.DynamicPseudoType {
		val = cty.StringVal(raw)
	} else if checkNesting([]byte(raw), source, true).HasErrors() {
		l.errorf(nil, "Invalid value for variable",
			"The value of %s for variable %q is nested deeper than %d levels.", source, v.decl.Name, MaxNesting)
		v.invalid = true
		return
	} else {
		expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.InitialPos)
		if !diags.HasErrors() {
			val, diags = expr.Value(nil)
		}
		if diags.HasErrors() {
			l.errorf(nil, "Invalid value for variable",
				"The value of %s for variable %q is not a valid HCL expression of type %s.",
				source, v.decl.Name, typeexpr.TypeString(v.ty))
			v.invalid = true
			return
		}
	}
	l.setValue(v, val, source, nil)
}

// setValue converts val to the variable's type and records it.
func (l *loader) setValue(v *variable, val cty.Value, source string, subject *hcl.Range) {
	cv, err := convert.Convert(val, v.ty)
	if err != nil {
		l.errorf(subject, "Invalid value for variable",
			"The value of %s for variable %q is not suitable: %s.", source, v.decl.Name, err)
		v.invalid = true
		return
	}
	v.val = cv
	v.decl.Set = true
}

// readVarFile applies a --var-file: name = value lines without references.
func (l *loader) readVarFile(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		l.errorf(nil, "Cannot read variables file", "%s.", err)
		return
	}
	f, diags := parseConfig(src, path)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return
	}
	l.cfg.Files[path] = f
	attrs, diags := f.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := attrs[name]
		v, ok := l.vars[name]
		if !ok {
			l.warnf(&a.NameRange, "Value for undeclared variable",
				"The file sets %q, but the configuration declares no variable of that name.", name)
			continue
		}
		val, diags := a.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		l.setValue(v, val, path, a.Expr.Range().Ptr())
	}
}

// validate runs one validation rule of v. Unknown values are not checked.
func (l *loader) validate(v *variable, vc *hcl.BodyContent) {
	cond := vc.Attributes["condition"]
	msgAttr := vc.Attributes["error_message"]
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": l.varObj},
		Functions: l.funcs,
	}
	res, ok := l.value(cond.Expr, ctx, scopeVars)
	if !ok || !res.IsWhollyKnown() {
		return
	}
	res, _ = res.UnmarkDeep()
	if res.IsNull() || !res.Type().Equals(cty.Bool) {
		l.errorf(cond.Expr.Range().Ptr(), "Invalid validation result",
			"The condition of a validation rule must be true or false, not %s.", friendlyType(res))
		return
	}
	if res.True() {
		return
	}
	detail := fmt.Sprintf("The value of variable %q does not pass this validation rule.", v.decl.Name)
	msg, ok := l.value(msgAttr.Expr, ctx, scopeVars)
	if ok && msg.IsWhollyKnown() && !msg.ContainsMarked() {
		if s, err := convert.Convert(msg, cty.String); err == nil && !s.IsNull() {
			detail = s.AsString()
		}
	}
	l.errorf(cond.Expr.Range().Ptr(), "Invalid value for variable", "%s", detail)
}
