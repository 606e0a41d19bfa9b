package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// DefaultEvery is how old a resource's newest backup may get when the
// resource does not set every.
const DefaultEvery = 24 * time.Hour

// DefaultFullReadEvery is how often an incremental backup reads every file
// of the delivery folder, unchanged or not, when full_read_every is not
// set: every 10th backup.
const DefaultFullReadEvery = 10

// schemaRoles are the schema roles of an application, in dump order.
var schemaRoles = []string{"management", "dashboard", "analysis"}

var applicationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "for_each"},
		{Name: "name"},
		{Name: "database", Required: true},
		{Name: "schemas", Required: true},
		{Name: "delivery_folder"},
		{Name: "on_new_version"},
		{Name: "incremental"},
		{Name: "full_read_every"},
		{Name: "every"},
		{Name: "retention"},
		{Name: "stores"},
		{Name: "depends_on"},
		{Name: "owners"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "options"}, {Type: "retention"}},
}

var measurementSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "name"},
		{Name: "database", Required: true},
		{Name: "schema", Required: true},
		{Name: "every"},
		{Name: "retention"},
		{Name: "stores"},
		{Name: "depends_on"},
		{Name: "owners"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retention"}},
}

var persistenceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "name"},
		{Name: "database"},
		{Name: "path"},
		{Name: "every"},
		{Name: "retention"},
		{Name: "stores"},
		{Name: "depends_on"},
		{Name: "owners"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retention"}, {Type: "before"}, {Type: "after"}},
}

var optionsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source_path"},
		{Name: "exclusion_patterns"},
		{Name: "objectives"},
		{Name: "extra"},
		{Name: "file"},
	},
}

var commandSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command", Required: true},
		{Name: "dir"},
		{Name: "timeout"},
	},
}

var hookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "sql"},
		{Name: "database"},
		{Name: "command"},
		{Name: "dir"},
		{Name: "timeout"},
	},
}

// resBlock is an application, measurement or persistence block with its
// nested blocks, checked against their schemas once.
type resBlock struct {
	kind      ResourceKind
	block     *hcl.Block
	content   *hcl.BodyContent
	options   *hcl.BodyContent
	retention *hcl.Block
	retBody   *hcl.BodyContent
	hooks     []hookBlock
	before    []cmdBlock
	after     []cmdBlock
	deps      []depRef
	// instances are the addresses of the expanded for_each instances;
	// unknownKeys is set when for_each was not known (offline).
	instances   []string
	unknownKeys bool
}

// hookBlock is one after_restore block.
type hookBlock struct {
	name    string
	rng     hcl.Range
	content *hcl.BodyContent
}

// cmdBlock is one before or after block.
type cmdBlock struct {
	rng     hcl.Range
	content *hcl.BodyContent
}

// depRef is one entry of depends_on.
type depRef struct {
	kind   ResourceKind
	name   string
	key    string
	hasKey bool
	rng    hcl.Range
}

// resExtra is what the checks across resources need besides the Resource.
type resExtra struct {
	block       *resBlock
	nameRange   hcl.Range
	schemaRange hcl.Range
	storesSet   bool
	// ownersRange is where the resource's owners are, when set.
	ownersRange *hcl.Range
}

// collectResource checks a resource block and its nested blocks against
// their schemas.
func (l *loader) collectResource(b *hcl.Block) {
	rb := &resBlock{kind: ResourceKind(b.Type), block: b}
	body := b.Body
	var hooks []*hclsyntax.Block
	if sb, ok := b.Body.(*hclsyntax.Body); ok {
		// after_restore blocks have an optional label, which a schema
		// cannot express: take them out and check them here.
		rest := *sb
		rest.Blocks = nil
		for _, nb := range sb.Blocks {
			if nb.Type == "after_restore" {
				hooks = append(hooks, nb)
			} else {
				rest.Blocks = append(rest.Blocks, nb)
			}
		}
		body = &rest
	}
	schema := map[ResourceKind]*hcl.BodySchema{
		Application: applicationSchema,
		Measurement: measurementSchema,
		Persistence: persistenceSchema,
	}[rb.kind]
	content, diags := body.Content(schema)
	l.diags = append(l.diags, diags...)
	rb.content = content

	for _, nb := range content.Blocks {
		switch nb.Type {
		case "options":
			if rb.options != nil {
				l.errorf(&nb.DefRange, "Duplicate options block", "An application has one options block at most.")
				continue
			}
			rb.options, diags = nb.Body.Content(optionsSchema)
		case "retention":
			if rb.retention != nil {
				l.errorf(&nb.DefRange, "Duplicate retention block", "A resource has one retention at most.")
				continue
			}
			if len(nb.Labels) > 0 {
				l.errorf(&nb.LabelRanges[0], "Extraneous label for retention",
					"An inline retention block has no name; to share a policy, declare a top-level retention block and refer to it.")
			}
			rb.retention = nb
			rb.retBody, diags = nb.Body.Content(retentionSchema)
			if a, ok := content.Attributes["retention"]; ok {
				l.errorf(a.Expr.Range().Ptr(), "Conflicting retention",
					"Set retention = retention.<name> or write a retention { … } block, not both.")
			}
		case "before", "after":
			var c *hcl.BodyContent
			c, diags = nb.Body.Content(commandSchema)
			cb := cmdBlock{rng: nb.DefRange, content: c}
			if nb.Type == "before" {
				rb.before = append(rb.before, cb)
			} else {
				rb.after = append(rb.after, cb)
			}
		}
		l.diags = append(l.diags, diags...)
	}

	names := map[string]hcl.Range{}
	for _, hb := range hooks {
		h := hookBlock{rng: hb.DefRange()}
		if len(hb.Labels) > 1 {
			l.errorf(&hb.LabelRanges[1], "Extraneous label for after_restore",
				"An after_restore block has one label at most: its name.")
			continue
		}
		if len(hb.Labels) == 1 {
			h.name = hb.Labels[0]
			if prev, dup := names[h.name]; dup {
				l.errorf(&hb.LabelRanges[0], "Duplicate after_restore hook",
					"An after_restore hook named %q was already declared at %s.", h.name, prev)
				continue
			}
			names[h.name] = hb.LabelRanges[0]
		}
		h.content, diags = hb.Body.Content(hookSchema)
		l.diags = append(l.diags, diags...)
		rb.hooks = append(rb.hooks, h)
	}

	if a, ok := content.Attributes["depends_on"]; ok {
		rb.deps = l.parseDependsOn(a)
	}
	l.res = append(l.res, rb)
}

// parseDependsOn reads depends_on statically: a list of resource
// references, which are never evaluated.
func (l *loader) parseDependsOn(a *hcl.Attribute) []depRef {
	return l.parseResourceRefs(a, "depends_on")
}

// parseResourceRefs reads attribute a (named attr in messages) statically:
// a list of resource references, which are never evaluated.
func (l *loader) parseResourceRefs(a *hcl.Attribute, attr string) []depRef {
	l.checked[a.Expr] = true
	exprs, diags := hcl.ExprList(a.Expr)
	l.diags = append(l.diags, diags...)
	var deps []depRef
	for _, e := range exprs {
		t, diags := hcl.AbsTraversalForExpr(e)
		if diags.HasErrors() {
			l.errorf(e.Range().Ptr(), "Invalid "+attr+" reference",
				`%s lists resources: application.<name>, application.<name>["<key>"], measurement.<name> or persistence.<name>.`, attr)
			continue
		}
		d := depRef{kind: ResourceKind(t.RootName()), rng: t.SourceRange()}
		ok := d.kind == Application || d.kind == Measurement || d.kind == Persistence
		if ok && len(t) >= 2 {
			a, isAttr := t[1].(hcl.TraverseAttr)
			d.name, ok = a.Name, isAttr
		} else {
			ok = false
		}
		if ok && len(t) == 3 {
			idx, isIdx := t[2].(hcl.TraverseIndex)
			ok = isIdx && d.kind == Application && idx.Key.Type() == cty.String
			if ok {
				d.key, d.hasKey = idx.Key.AsString(), true
			}
		}
		if !ok || len(t) > 3 {
			l.errorf(&d.rng, "Invalid "+attr+" reference",
				`%s lists resources: application.<name>, application.<name>["<key>"], measurement.<name> or persistence.<name>.`, attr)
			continue
		}
		deps = append(deps, d)
	}
	return deps
}

// evalResources expands and decodes the resource blocks.
func (l *loader) evalResources() {
	for _, rb := range l.res {
		label := rb.block.Labels[0]
		if fe, ok := rb.content.Attributes["for_each"]; ok && rb.kind == Application {
			l.expand(rb, fe)
			continue
		}
		r := l.decodeResource(rb, l.full, scopeGlobal, string(rb.kind)+"."+label, label, rb.block.LabelRanges[0], true)
		rb.instances = append(rb.instances, r.Address)
		l.cfg.Resources = append(l.cfg.Resources, r)
	}
	sort.Slice(l.cfg.Resources, func(i, j int) bool { return l.cfg.Resources[i].Address < l.cfg.Resources[j].Address })
}

// expand decodes one resource per for_each element. When the for_each
// value is not known (offline), the body is still checked once with
// unknown each.key and each.value.
func (l *loader) expand(rb *resBlock, fe *hcl.Attribute) {
	label := rb.block.Labels[0]
	v, ok := l.value(fe.Expr, l.full, scopeGlobal)
	if !ok {
		return
	}
	rng := fe.Expr.Range()
	if v.IsMarked() {
		l.errorf(&rng, "Invalid for_each argument",
			"The for_each value comes from a sensitive variable; its keys become resource addresses and names, which are printed.")
		return
	}
	if v.IsNull() {
		l.errorf(&rng, "Invalid for_each argument", "The for_each value is null; a map or a set of strings is required.")
		return
	}
	ty := v.Type()
	instance := func(key string, val cty.Value) {
		ctx := l.full.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": val})}
		addr := fmt.Sprintf("application.%s[%s]", label, quoteKey(key))
		r := l.decodeResource(rb, ctx, scopeEach, addr, key, rng, true)
		rb.instances = append(rb.instances, addr)
		l.cfg.Resources = append(l.cfg.Resources, r)
	}
	switch {
	case !v.IsKnown() || (ty.IsSetType() && !v.IsWhollyKnown()):
		rb.unknownKeys = true
		ctx := l.full.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}
		l.decodeResource(rb, ctx, scopeEach, fmt.Sprintf("application.%s[*]", label), "", rng, false)
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			instance(k.AsString(), e)
		}
	case ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsMarked() {
				l.errorf(&rng, "Invalid for_each argument",
					"The for_each set holds a sensitive value; its elements become resource addresses and names, which are printed.")
				return
			}
			s, err := convert.Convert(e, cty.String)
			if err != nil || s.IsNull() {
				l.errorf(&rng, "Invalid for_each argument", "A for_each set must hold strings; this one holds %s.", friendlyType(e))
				return
			}
			instance(s.AsString(), s)
		}
	default:
		l.errorf(&rng, "Invalid for_each argument",
			"The for_each value must be a map or a set of strings, not %s. Turn a list of names into a set with toset(…).", friendlyType(v))
	}
}

// quoteKey quotes a for_each key as an HCL string literal.
func quoteKey(k string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range k {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(k[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// nameProblem says why name cannot name a folder and archive files, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case name == "." || name == "..":
		return "it is a relative folder name"
	case strings.HasPrefix(name, "."):
		return "it starts with a dot"
	case strings.ContainsAny(name, "/\\\x00"):
		return `it contains "/", "\" or a NUL character`
	}
	return ""
}

// decodeResource decodes one resource (one instance of a for_each block).
// nameKnown is false when the name depends on an unknown for_each key.
func (l *loader) decodeResource(rb *resBlock, ctx *hcl.EvalContext, sc scope, addr, name string, nameRange hcl.Range, nameKnown bool) *Resource {
	c := rb.content
	bd := l.body(c, ctx, sc)
	r := &Resource{Kind: rb.kind, Address: addr, Name: name, DeclRange: rb.block.DefRange}
	ex := &resExtra{block: rb, nameRange: nameRange}
	l.extra[r] = ex

	if a, ok := c.Attributes["name"]; ok {
		if n := bd.nonEmpty("name", ""); n != "" {
			r.Name, ex.nameRange = n, a.Expr.Range()
		} else {
			nameKnown = false
		}
	}
	if p := nameProblem(r.Name); nameKnown && p != "" {
		l.errorf(&ex.nameRange, "Invalid resource name",
			"The name %q of %s cannot be used for folders and archive files in the stores: %s.", r.Name, addr, p)
	}
	if db, ok := bd.ref("database", kindDatabase); ok {
		r.Database = l.cfg.Databases[db]
	}

	switch rb.kind {
	case Application:
		r.Schemas = l.decodeSchemas(bd, c.Attributes["schemas"])
		if a, ok := c.Attributes["schemas"]; ok {
			ex.schemaRange = a.Expr.Range()
		}
		r.DeliveryFolder = bd.path("delivery_folder")
		r.OnNewVersion = bd.boolean("on_new_version", true)
		r.Incremental = bd.boolean("incremental", true)
		r.FullReadEvery = bd.integer("full_read_every", DefaultFullReadEvery, 1, 1000000)
		if rb.options != nil {
			ob := l.body(rb.options, ctx, sc)
			r.Options = &Options{
				SourcePath:        ob.str("source_path", ""),
				ExclusionPatterns: ob.strList("exclusion_patterns"),
				Objectives:        ob.strList("objectives"),
				Extra:             ob.strMap("extra"),
				File:              ob.path("file"),
			}
		}
	case Measurement:
		if s := bd.nonEmpty("schema", ""); s != "" {
			r.Schemas = []Schema{{Role: "measurement", Name: s}}
		}
		if a, ok := c.Attributes["schema"]; ok {
			ex.schemaRange = a.Expr.Range()
		}
	case Persistence:
		l.decodePersistence(rb, r, bd, ctx, sc)
	}

	r.Every = bd.duration("every", DefaultEvery)
	if rb.retention != nil {
		r.Retention = l.decodeRetention("", rb.retBody, ctx, sc, rb.retention.DefRange)
	} else if ret, ok := bd.ref("retention", kindRetention); ok {
		r.Retention = l.cfg.Retentions[ret]
	}
	if a, ok := c.Attributes["stores"]; ok {
		ex.storesSet = true
		r.Stores = l.decodeStores(a, ctx, sc)
	}
	if owners, ok := bd.owners("owners"); ok {
		r.Owners = owners
		ex.ownersRange = c.Attributes["owners"].Expr.Range().Ptr()
	}
	for _, h := range rb.hooks {
		if hook, ok := l.decodeHook(h, r, ctx, sc); ok {
			r.AfterRestore = append(r.AfterRestore, hook)
		}
	}
	return r
}

// decodeSchemas reads schemas = { role = "schema", … } in role order.
func (l *loader) decodeSchemas(bd *body, a *hcl.Attribute) []Schema {
	if a == nil {
		return nil
	}
	v, _, ok := bd.raw("schemas")
	if !ok {
		return nil
	}
	rng := a.Expr.Range()
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		l.errorf(&rng, "Incorrect attribute value type",
			`schemas must be an object of role = schema name, such as { management = "app_mngt", dashboard = "app_central", analysis = "app_local" }; got %s.`, friendlyType(v))
		return nil
	}
	keyRanges := map[string]hcl.Range{}
	valRanges := map[string]hcl.Range{}
	if pairs, diags := hcl.ExprMap(a.Expr); !diags.HasErrors() {
		for _, p := range pairs {
			k := hcl.ExprAsKeyword(p.Key)
			if k == "" {
				if kv, diags := p.Key.Value(bd.ctx); !diags.HasErrors() && kv.Type() == cty.String && kv.IsKnown() && !kv.IsNull() {
					k = kv.AsString()
				}
			}
			keyRanges[k], valRanges[k] = p.Key.Range(), p.Value.Range()
		}
	}
	at := func(m map[string]hcl.Range, k string) *hcl.Range {
		if r, ok := m[k]; ok {
			return &r
		}
		return &rng
	}
	byRole := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		role := k.AsString()
		known := false
		for _, r := range schemaRoles {
			known = known || r == role
		}
		if !known {
			l.errorf(at(keyRanges, role), "Unknown schema role",
				"%q is not a schema role of an application; the roles are management, dashboard and analysis.", role)
			continue
		}
		s, err := convert.Convert(e, cty.String)
		if err != nil || s.IsNull() || strings.TrimSpace(s.AsString()) == "" {
			l.errorf(at(valRanges, role), "Invalid schema name", "The %s schema must be a non-empty schema name.", role)
			continue
		}
		byRole[role] = s.AsString()
	}
	if v.LengthInt() == 0 {
		l.errorf(&rng, "No schemas", "An application backs up at least one schema: management, dashboard or analysis.")
	}
	var out []Schema
	for _, role := range schemaRoles {
		if s, ok := byRole[role]; ok {
			out = append(out, Schema{Role: role, Name: s})
		}
	}
	return out
}

// decodePersistence reads the source of a persistence resource: a
// database dumped whole, or a folder copied between before and after
// commands.
func (l *loader) decodePersistence(rb *resBlock, r *Resource, bd *body, ctx *hcl.EvalContext, sc scope) {
	c := rb.content
	dbAttr, hasDB := c.Attributes["database"]
	pathAttr, hasPath := c.Attributes["path"]
	switch {
	case hasDB && hasPath:
		l.errorf(pathAttr.Expr.Range().Ptr(), "Conflicting persistence source",
			"A persistence resource backs up either a database (database = database.<name>) or a folder (path = \"…\"), not both; %s sets database at %s.", r.Address, dbAttr.Range)
	case !hasDB && !hasPath:
		l.errorf(&rb.block.DefRange, "Missing persistence source",
			"A persistence resource backs up either a database (database = database.<name>) or a folder (path = \"…\").")
	case hasPath:
		r.Path = bd.path("path")
	}
	if !hasPath && (len(rb.before) > 0 || len(rb.after) > 0) {
		first := append(append([]cmdBlock{}, rb.before...), rb.after...)[0]
		l.errorf(&first.rng, "Hooks without a folder",
			"before and after blocks run around the copy of a path; a database is dumped consistently without them.")
	}
	for _, cb := range rb.before {
		r.Before = append(r.Before, l.decodeCommand(l.body(cb.content, ctx, sc)))
	}
	for _, cb := range rb.after {
		r.After = append(r.After, l.decodeCommand(l.body(cb.content, ctx, sc)))
	}
}

// decodeCommand reads command, dir and timeout.
func (l *loader) decodeCommand(bd *body) Command {
	cmd := Command{Argv: bd.strList("command"), Dir: bd.path("dir"), Timeout: bd.duration("timeout", 0)}
	if a, ok := bd.attrs["command"]; ok && !bd.incomplete && (len(cmd.Argv) == 0 || cmd.Argv[0] == "") {
		l.errorf(a.Expr.Range().Ptr(), "Empty command", "command is a program and its arguments, such as [\"systemctl\", \"stop\", \"aip-node\"].")
	}
	return cmd
}

// decodeHook reads an after_restore block.
func (l *loader) decodeHook(h hookBlock, r *Resource, ctx *hcl.EvalContext, sc scope) (Hook, bool) {
	bd := l.body(h.content, ctx, sc)
	_, hasSQL := h.content.Attributes["sql"]
	_, hasCmd := h.content.Attributes["command"]
	hook := Hook{Name: h.name}
	switch {
	case hasSQL == hasCmd:
		l.errorf(&h.rng, "Invalid after_restore hook",
			"An after_restore hook runs either sql = \"…\" (against a database) or command = [\"…\"], exactly one of them.")
		return hook, false
	case hasSQL:
		for _, name := range []string{"dir", "timeout"} {
			if a, ok := h.content.Attributes[name]; ok {
				l.errorf(&a.NameRange, "Invalid after_restore hook", "%s applies to command hooks only.", name)
			}
		}
		hook.SQL = bd.nonEmpty("sql", "")
		hook.Database = r.Database
		if _, ok := h.content.Attributes["database"]; ok {
			hook.Database = nil
			if db, ok := bd.ref("database", kindDatabase); ok {
				hook.Database = l.cfg.Databases[db]
			}
		} else if r.Database == nil && r.Kind == Persistence {
			l.errorf(&h.rng, "Missing database for after_restore sql",
				"%s has no database; say which database the SQL runs against with database = database.<name>.", r.Address)
		}
	default:
		if a, ok := h.content.Attributes["database"]; ok {
			l.errorf(&a.NameRange, "Invalid after_restore hook", "database applies to sql hooks only.")
		}
		cmd := l.decodeCommand(bd)
		hook.Command = &cmd
	}
	return hook, true
}

// decodeStores reads stores = [store.a, …].
func (l *loader) decodeStores(a *hcl.Attribute, ctx *hcl.EvalContext, sc scope) []*Store {
	v, ok := l.value(a.Expr, ctx, sc)
	if !ok || !v.IsKnown() {
		return nil
	}
	rng := a.Expr.Range()
	v, _ = v.UnmarkDeep()
	ty := v.Type()
	if v.IsNull() || !(ty.IsTupleType() || ty.IsListType() || ty.IsSetType()) {
		l.errorf(&rng, "Incorrect attribute value type", "stores must be a list of stores, such as [store.node, store.offsite]; got %s.", friendlyType(v))
		return nil
	}
	elems, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() || len(elems) != v.LengthInt() {
		elems = nil
	}
	if v.LengthInt() == 0 {
		l.errorf(&rng, "No stores", "stores is empty, so the backups would be kept nowhere. Leave stores out to use every store.")
		return nil
	}
	var out []*Store
	seen := map[string]bool{}
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		erng := rng
		if elems != nil {
			erng = elems[i].Range()
		}
		name, ok := l.refName(kindStore, e, erng)
		if !ok {
			continue
		}
		if seen[name] {
			l.errorf(&erng, "Duplicate store reference", "store.%s is listed twice.", name)
			continue
		}
		seen[name] = true
		if st := l.cfg.Stores[name]; st != nil {
			out = append(out, st)
		}
	}
	return out
}

// checkResources runs the checks that span resources and fills in
// default stores and depends_on addresses.
func (l *loader) checkResources() {
	var all []*Store
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Stores)) {
		all = append(all, l.cfg.Stores[name])
	}
	if len(all) == 0 && len(l.res) > 0 {
		l.errorf(&l.res[0].block.DefRange, "No store configured",
			"Backups need a place to go: declare at least one store, such as store \"node\" { local { path = \"/var/backups/planb\" } }.")
	}

	names := map[string]*Resource{}
	schemas := map[string]string{}
	for _, r := range l.cfg.Resources {
		ex := l.extra[r]
		if !ex.storesSet {
			r.Stores = all
		}
		if nameProblem(r.Name) == "" {
			key := string(r.Kind) + "\x00" + r.Name
			if prev, dup := names[key]; dup {
				l.errorf(&ex.nameRange, "Duplicate "+string(r.Kind)+" name",
					"%s and %s both have the name %q. Names must be unique: they name the folders and archives in the stores.", prev.Address, r.Address, r.Name)
			} else {
				names[key] = r
			}
		}
		l.checkClaims(r, ex, schemas)
		if r.Owners != nil {
			l.checkOwners(r.Owners, *ex.ownersRange, r.Address)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Stores)) {
		st := l.cfg.Stores[name]
		if st.Owners != nil {
			l.checkOwners(st.Owners, l.ownerRanges[st], "store."+name)
		}
	}
	l.resolveDependsOn()
}

// checkOwners reports owners (of what, at rng) that do not list this node:
// a node backs up only what it owns. Nothing is checked while the node is
// not known (offline, from a variable without a value).
func (l *loader) checkOwners(owners []string, rng hcl.Range, what string) {
	node := l.cfg.Node
	if node == "" || slices.Contains(owners, node) {
		return
	}
	how := "set by planb { node }"
	if l.cfg.NodeFromHost {
		how = "the host name; planb { node } is not set"
	}
	l.errorf(&rng, "This node is not an owner",
		"The owners of %s are %s, but this node is %q (%s). A node backs up only what it owns: add %q to owners, or set planb { node } to the owner this node is.",
		what, quoteList(owners), node, how, node)
}

// quoteList returns ["a", "b"].
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// checkClaims reports a schema (or whole database) backed up by two
// resources. Databases with unknown connection settings are skipped.
func (l *loader) checkClaims(r *Resource, ex *resExtra, claims map[string]string) {
	db := r.Database
	if db == nil || l.unknownDBs[db.Name] || db.Host == "" {
		return
	}
	server := fmt.Sprintf("%s:%d/%s", db.Host, db.Port, db.DBName)
	if r.Kind == Persistence {
		key := server + "\x00"
		if prev, dup := claims[key]; dup {
			l.errorf(&ex.nameRange, "Database claimed twice",
				"Database %q on %s:%d is already backed up whole by %s.", db.DBName, db.Host, db.Port, prev)
			return
		}
		claims[key] = r.Address
		return
	}
	for _, s := range r.Schemas {
		key := server + "\x00" + s.Name
		owner := r.Address + " (" + s.Role + ")"
		if prev, dup := claims[key]; dup {
			l.errorf(&ex.schemaRange, "Schema claimed twice",
				"Schema %q of database %q on %s:%d is already backed up by %s; each schema belongs to one resource.",
				s.Name, db.DBName, db.Host, db.Port, prev)
			continue
		}
		claims[key] = owner
	}
}

// resBlocksByRef indexes the resource blocks by kind and label
// (application.daily).
func (l *loader) resBlocksByRef() map[string]*resBlock {
	blocks := map[string]*resBlock{}
	for _, rb := range l.res {
		blocks[string(rb.kind)+"."+rb.block.Labels[0]] = rb
	}
	return blocks
}

// resolveRef turns a resource reference of attribute attr into the
// addresses it names: one instance, or every instance of a for_each block.
// Undeclared targets are reported; nothing is returned for them.
func (l *loader) resolveRef(d depRef, attr string, blocks map[string]*resBlock, byAddr map[string]*Resource) []string {
	ref := string(d.kind) + "." + d.name
	target, ok := blocks[ref]
	if !ok {
		l.errorf(&d.rng, "Reference to undeclared resource", "There is no %s %q in the configuration.", d.kind, d.name)
		return nil
	}
	_, forEach := target.content.Attributes["for_each"]
	switch {
	case d.hasKey && !forEach:
		l.errorf(&d.rng, "Invalid "+attr+" reference", "%s has no for_each, so it has no instances to pick by key.", ref)
		return nil
	case d.hasKey:
		addr := fmt.Sprintf("%s[%s]", ref, quoteKey(d.key))
		if _, ok := byAddr[addr]; !ok {
			if !target.unknownKeys {
				l.errorf(&d.rng, "Reference to undeclared resource", "%s has no instance with the key %q.", ref, d.key)
			}
			return nil
		}
		return []string{addr}
	default:
		return target.instances
	}
}

// resolveDependsOn turns depends_on references into addresses and
// reports undeclared targets and cycles.
func (l *loader) resolveDependsOn() {
	blocks := l.resBlocksByRef()
	type edge struct {
		to  string
		rng hcl.Range
	}
	edges := map[string][]edge{}
	byAddr := map[string]*Resource{}
	for _, r := range l.cfg.Resources {
		byAddr[r.Address] = r
	}
	for _, r := range l.cfg.Resources {
		set := map[string]bool{}
		for _, d := range l.extra[r].block.deps {
			addrs := l.resolveRef(d, "depends_on", blocks, byAddr)
			for _, a := range addrs {
				if !set[a] {
					set[a] = true
					edges[r.Address] = append(edges[r.Address], edge{to: a, rng: d.rng})
				}
			}
		}
		r.DependsOn = slices.Sorted(maps.Keys(set))
		if len(r.DependsOn) == 0 {
			r.DependsOn = nil
		}
	}

	state := map[string]uint8{}
	var stack []string
	var visit func(addr string)
	visit = func(addr string) {
		state[addr] = 1
		stack = append(stack, addr)
		for _, e := range edges[addr] {
			switch state[e.to] {
			case 0:
				visit(e.to)
			case 1:
				i := len(stack) - 1
				for stack[i] != e.to {
					i--
				}
				path := append(append([]string{}, stack[i:]...), e.to)
				rng := e.rng
				l.errorf(&rng, "Dependency cycle",
					"Resources wait for each other in a circle: %s. Remove one of these depends_on entries.", strings.Join(path, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		state[addr] = 2
	}
	for _, r := range l.cfg.Resources {
		if state[r.Address] == 0 {
			visit(r.Address)
		}
	}
}
