package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Kinds of the objects that expressions can refer to by name.
const (
	kindDatabase  = "database"
	kindStore     = "store"
	kindRetention = "retention"
	// kindAttr is the hidden attribute that says what kind of object a
	// reference value is; "__" names cannot be written as traversals.
	kindAttr = "__kind"
)

// scope says which references an expression may use.
type scope int

const (
	scopeVars   scope = iota // variable validation rules: var only
	scopeGlobal              // locals, databases, stores, retentions, resources
	scopeEach                // application with for_each: also each.key, each.value
)

// refNouns names the objects behind the reference roots, for messages.
var refNouns = map[string]string{
	"var":         "input variable",
	"local":       "local value",
	kindDatabase:  "database",
	kindStore:     "store",
	kindRetention: "retention",
}

// checkRefs reports references expr may not use: undeclared names, each
// outside for_each, resources outside depends_on. It reports false when
// expr must not be evaluated. Each expression is checked once, so a
// for_each block's problems are reported once, not per instance.
func (l *loader) checkRefs(expr hcl.Expression, sc scope) bool {
	if ok, done := l.checked[expr]; done {
		return ok
	}
	ok := true
	for _, t := range expr.Variables() {
		if !l.checkRef(t, sc) {
			ok = false
		}
	}
	l.checked[expr] = ok
	return ok
}

func (l *loader) checkRef(t hcl.Traversal, sc scope) bool {
	root := t.RootName()
	rng := t.SourceRange()
	attr, hasAttr := "", false
	if len(t) > 1 {
		if a, ok := t[1].(hcl.TraverseAttr); ok {
			attr, hasAttr = a.Name, true
		}
	}
	switch root {
	case "var", "local", kindDatabase, kindStore, kindRetention, "each":
		if !hasAttr {
			l.errorf(&rng, "Invalid reference",
				"A reference to %s must be followed by a name, such as %s.name.", root, root)
			return false
		}
	}
	switch root {
	case "var":
		if _, ok := l.vars[attr]; !ok {
			l.errorf(&rng, "Reference to undeclared input variable",
				"An input variable named %q has not been declared. Declare it with a variable %q {} block.", attr, attr)
			return false
		}
		return true
	case "local", kindDatabase, kindStore, kindRetention:
		if sc == scopeVars {
			l.errorf(&rng, "Invalid reference in variable validation",
				"A validation rule can refer only to input variables (var.<name>).")
			return false
		}
		declared := false
		if root == "local" {
			_, declared = l.locals[attr]
		} else {
			_, declared = l.blocks[root][attr]
		}
		if !declared {
			l.errorf(&rng, "Reference to undeclared "+refNouns[root],
				"A %s named %q has not been declared.", refNouns[root], attr)
			return false
		}
		return true
	case "each":
		if sc != scopeEach {
			l.errorf(&rng, `Reference to "each" in context without for_each`,
				"each.key and each.value are defined only in an application block that sets for_each.")
			return false
		}
		if attr != "key" && attr != "value" {
			l.errorf(&rng, `Invalid "each" attribute`, "each has two attributes: key and value; %q is not one of them.", attr)
			return false
		}
		return true
	case "application", "measurement", "persistence":
		l.errorf(&rng, "Invalid reference",
			"A %s can be referred to only in depends_on and in a drill's applications; its settings are not available to expressions.", root)
		return false
	default:
		l.errorf(&rng, "Reference to unknown name",
			"There is no object named %q. References start with var., local., database., store., retention. or each.", root)
		return false
	}
}

// value checks the references of expr and evaluates it. On failure (or
// when a reference is not allowed) it appends diagnostics and reports
// false; the value is then cty.DynamicVal.
func (l *loader) value(expr hcl.Expression, ctx *hcl.EvalContext, sc scope) (cty.Value, bool) {
	if !l.checkRefs(expr, sc) {
		return cty.DynamicVal, false
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() && exposesSensitive(expr, ctx) {
		// Function and conversion errors quote their arguments.
		for _, d := range diags {
			d.Detail = "The expression uses a sensitive value, so the details of this error are not shown."
			d.Expression, d.EvalContext = nil, nil
		}
	}
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	return v, true
}

// node is a named object that expressions refer to: a local value, a
// database, a store or a retention. Nodes are evaluated in dependency
// order.
type node struct {
	kind, name string
	exprs      []hcl.Expression
	deps       []dep
	state      uint8 // 0 new, 1 being evaluated, 2 done
	// eval computes the node's value from a context holding its
	// dependencies.
	eval func(ctx *hcl.EvalContext) cty.Value
}

// dep is a reference from one node to another.
type dep struct {
	key string // kind.name
	rng hcl.Range
}

func (n *node) key() string { return n.kind + "." + n.name }

// addNode registers a node and computes its dependencies.
func (l *loader) addNode(n *node) {
	for _, e := range n.exprs {
		for _, t := range e.Variables() {
			root := t.RootName()
			if root != "local" && root != kindDatabase && root != kindStore && root != kindRetention {
				continue
			}
			if len(t) < 2 {
				continue
			}
			a, ok := t[1].(hcl.TraverseAttr)
			if !ok {
				continue
			}
			n.deps = append(n.deps, dep{key: root + "." + a.Name, rng: t.SourceRange()})
		}
	}
	l.nodes[n.key()] = n
}

// evalNodes evaluates locals, databases, stores and retentions in
// dependency order and builds the context resources are evaluated in.
func (l *loader) evalNodes() {
	for name, a := range l.locals {
		l.addNode(&node{kind: "local", name: name, exprs: []hcl.Expression{a.Expr}, eval: func(ctx *hcl.EvalContext) cty.Value {
			v, _ := l.value(a.Expr, ctx, scopeGlobal)
			return v
		}})
	}
	for name, b := range l.blocks[kindDatabase] {
		l.addNode(l.databaseNode(name, b))
	}
	for name, b := range l.blocks[kindStore] {
		l.addNode(l.storeNode(name, b))
	}
	for name, b := range l.blocks[kindRetention] {
		l.addNode(l.retentionNode(name, b))
	}
	keys := make([]string, 0, len(l.nodes))
	for k := range l.nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l.visit(l.nodes[k], nil)
	}
	l.full = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":         l.varObj,
			"local":       objectOf(l.values["local"]),
			kindDatabase:  objectOf(l.values[kindDatabase]),
			kindStore:     objectOf(l.values[kindStore]),
			kindRetention: objectOf(l.values[kindRetention]),
		},
		Functions: l.funcs,
	}
}

// visit evaluates n after its dependencies. A dependency that is being
// evaluated closes a cycle: it is reported at the reference that closes
// it, and evaluation goes on with an unknown value so that nothing else
// is reported because of it.
func (l *loader) visit(n *node, stack []*node) {
	if n.state != 0 {
		return
	}
	n.state = 1
	stack = append(stack, n)
	for _, d := range n.deps {
		m, ok := l.nodes[d.key]
		if !ok {
			continue // undeclared: reported when the expression is evaluated
		}
		if m.state == 1 {
			var path []string
			for i := len(stack) - 1; i >= 0; i-- {
				path = append([]string{stack[i].key()}, path...)
				if stack[i] == m {
					break
				}
			}
			path = append(path, m.key())
			rng := d.rng
			l.errorf(&rng, "Reference cycle",
				"%s refers to itself: %s. Values cannot depend on themselves.", m.key(), strings.Join(path, " → "))
			continue
		}
		l.visit(m, stack)
	}
	l.values[n.kind][n.name] = n.eval(l.ctxFor(n))
	n.state = 2
}

// ctxFor builds an evaluation context holding the values n refers to.
func (l *loader) ctxFor(n *node) *hcl.EvalContext {
	groups := map[string]map[string]cty.Value{}
	for _, d := range n.deps {
		kind, name, _ := strings.Cut(d.key, ".")
		if groups[kind] == nil {
			groups[kind] = map[string]cty.Value{}
		}
		v, ok := l.values[kind][name]
		if !ok {
			v = cty.DynamicVal
		}
		groups[kind][name] = v
	}
	vars := map[string]cty.Value{"var": l.varObj}
	for kind, vals := range groups {
		vars[kind] = cty.ObjectVal(vals)
	}
	return &hcl.EvalContext{Variables: vars, Functions: l.funcs}
}

// objectOf makes an object of vals (an empty object for none).
func objectOf(vals map[string]cty.Value) cty.Value {
	if len(vals) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(vals)
}

// refObject is the value of database.x, store.x or retention.x in
// expressions: attrs plus the hidden kind marker and the name.
func refObject(kind, name string, attrs map[string]cty.Value) cty.Value {
	m := make(map[string]cty.Value, len(attrs)+2)
	for k, v := range attrs {
		m[k] = v
	}
	m[kindAttr] = cty.StringVal(kind)
	m["name"] = cty.StringVal(name)
	return cty.ObjectVal(m)
}

// refName returns the name of the object of kind want that v refers to.
// Unknown values report false silently; anything else that is not such a
// reference is reported as a wrong kind of reference at rng.
func (l *loader) refName(want string, v cty.Value, rng hcl.Range) (string, bool) {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		return "", false
	}
	if !v.IsNull() && v.Type().IsObjectType() && v.Type().HasAttribute(kindAttr) && v.Type().HasAttribute("name") {
		k, n := v.GetAttr(kindAttr), v.GetAttr("name")
		if !k.IsKnown() || !n.IsKnown() {
			return "", false
		}
		if k.AsString() == want {
			return n.AsString(), true
		}
		l.errorf(&rng, "Wrong kind of reference", "Expected a %s, got %s.%s.", want, k.AsString(), n.AsString())
		return "", false
	}
	l.errorf(&rng, "Wrong kind of reference", "Expected a %s (%s.<name>), got %s.", want, want, friendlyType(v))
	return "", false
}

// friendlyType describes the type of v for messages.
func friendlyType(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	name := v.Type().FriendlyName()
	switch name[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + name
	}
	return "a " + name
}
