package config

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// LoadOptions are the inputs of Load besides the files.
type LoadOptions struct {
	// Vars are --var name=value settings. For a variable of type string (or
	// without a type) the value is taken as is; for other types it is parsed
	// as an HCL expression (["a", "b"], { k = 1 }, 3, true).
	Vars map[string]string
	// VarFiles are --var-file paths, in order; each holds name = value
	// lines in HCL syntax. Later files win.
	VarFiles []string
	// Getenv looks up PLANB_VAR_<name> and serves env(); nil = os.Getenv.
	Getenv func(string) string
	// Offline leaves variables without a value unknown instead of
	// reporting them, so a configuration can be validated without its
	// secrets. Everything that does not depend on them is still checked.
	Offline bool
	// DeferSecrets leaves sensitive variables without a value unknown
	// instead of reporting them: the secrets taken from them report the
	// variable through Secret.Missing, and only the commands that need
	// them fail. Non-sensitive variables without a value are still errors.
	DeferSecrets bool
	// Hostname names this node when planb { node } is not set; nil =
	// os.Hostname.
	Hostname func() (string, error)
}

// rootSchema lists the top-level block types.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "planb"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "database", LabelNames: []string{"name"}},
		{Type: "store", LabelNames: []string{"name"}},
		{Type: "retention", LabelNames: []string{"name"}},
		{Type: "application", LabelNames: []string{"name"}},
		{Type: "measurement", LabelNames: []string{"name"}},
		{Type: "persistence", LabelNames: []string{"name"}},
		{Type: "drill", LabelNames: []string{"name"}},
		{Type: "notify", LabelNames: []string{"name"}},
	},
}

// loader holds the state of one Load.
type loader struct {
	dir    string
	opts   LoadOptions
	getenv func(string) string
	cfg    *Config
	diags  hcl.Diagnostics
	funcs  map[string]function.Function

	vars    map[string]*variable
	varObj  cty.Value
	planb   []*hcl.Block
	locals  map[string]*hcl.Attribute
	blocks  map[string]map[string]*hcl.Block // database, store, retention by name
	res     []*resBlock
	drills  []*hcl.Block
	nodes   map[string]*node
	values  map[string]map[string]cty.Value // local, database, store, retention
	checked map[hcl.Expression]bool
	full    *hcl.EvalContext
	extra   map[*Resource]*resExtra
	// unknownDBs are databases whose connection settings are not known.
	unknownDBs map[string]bool
	// ownerRanges holds where each store's owners are set.
	ownerRanges map[*Store]hcl.Range
	// notifiers are the notify blocks.
	notifiers []*hcl.Block
}

// Load reads all *.hcl files of dir (in name order) and evaluates them.
//
// All problems are reported in one run. When a file does not parse, the
// result is nil and the diagnostics are the syntax errors of all files;
// otherwise a Config is returned even when there are errors, filled in as
// far as the configuration allowed. Diagnostics are sorted by position
// (those without a position first) and free of sensitive values.
func Load(dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	l := newLoader(dir, opts)
	cfg := l.run()
	return cfg, l.finish()
}

func newLoader(dir string, opts LoadOptions) *loader {
	l := &loader{
		dir:     dir,
		opts:    opts,
		getenv:  opts.Getenv,
		vars:    map[string]*variable{},
		locals:  map[string]*hcl.Attribute{},
		blocks:  map[string]map[string]*hcl.Block{},
		nodes:   map[string]*node{},
		values:  map[string]map[string]cty.Value{},
		checked: map[hcl.Expression]bool{},
		extra:   map[*Resource]*resExtra{},

		unknownDBs:  map[string]bool{},
		ownerRanges: map[*Store]hcl.Range{},
	}
	if l.getenv == nil {
		l.getenv = os.Getenv
	}
	for _, k := range []string{"local", kindDatabase, kindStore, kindRetention} {
		l.blocks[k] = map[string]*hcl.Block{}
		l.values[k] = map[string]cty.Value{}
	}
	l.funcs = functions(dir, l.getenv)
	l.cfg = &Config{
		Dir:        dir,
		Files:      map[string]*hcl.File{},
		Databases:  map[string]*Database{},
		Stores:     map[string]*Store{},
		Retentions: map[string]*Retention{},
	}
	return l
}

// run does the work of Load; it returns nil when the files do not parse.
func (l *loader) run() *Config {
	files, ok := l.parse()
	if !ok {
		return nil
	}
	l.collect(files)
	l.evalVariables()
	l.evalNodes()
	l.evalPlanb()
	l.evalResources()
	l.checkResources()
	l.evalDrills()
	l.evalNotifiers()
	l.cfg.Digest = l.digest(files)
	return l.cfg
}

// sourceFile is one parsed configuration file.
type sourceFile struct {
	name string // base name, for the digest
	src  []byte
	file *hcl.File
}

// parse reads and parses every *.hcl file of the directory. It reports
// false when the directory cannot be read, holds no configuration or a
// file has syntax errors.
func (l *loader) parse() ([]sourceFile, bool) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		l.errorf(nil, "Cannot read the configuration directory", "%s.", err)
		return nil, false
	}
	var files []sourceFile
	failed := false
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(l.dir, e.Name())
		src, err := os.ReadFile(path)
		if err != nil {
			l.errorf(nil, "Cannot read a configuration file", "%s.", err)
			failed = true
			continue
		}
		f, diags := parseConfig(src, path)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			failed = true
			continue
		}
		l.cfg.Files[path] = f
		files = append(files, sourceFile{name: e.Name(), src: src, file: f})
	}
	if len(files) == 0 && !failed {
		l.errorf(nil, "No configuration files",
			"The directory %s holds no *.hcl files. A configuration is the set of *.hcl files of one directory.", l.dir)
		return nil, false
	}
	return files, !failed
}

// collect sorts the top-level blocks by type, reporting unknown block types,
// duplicate names and names that cannot be referenced.
func (l *loader) collect(files []sourceFile) {
	declared := map[string]map[string]hcl.Range{}
	for _, f := range files {
		content, diags := f.file.Body.Content(rootSchema)
		l.diags = append(l.diags, diags...)
		for _, b := range content.Blocks {
			if len(b.Labels) == 1 {
				name := b.Labels[0]
				if !hclsyntax.ValidIdentifier(name) {
					l.errorf(&b.LabelRanges[0], "Invalid name",
						"%q is not a valid %s name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes, so that it can be referred to as %s.<name>.",
						name, b.Type, b.Type)
					continue
				}
				if declared[b.Type] == nil {
					declared[b.Type] = map[string]hcl.Range{}
				}
				if prev, dup := declared[b.Type][name]; dup {
					l.errorf(&b.LabelRanges[0], fmt.Sprintf("Duplicate %s block", b.Type),
						"A %s named %q was already declared at %s. Names must be unique.", b.Type, name, prev)
					continue
				}
				declared[b.Type][name] = b.DefRange
			}
			switch b.Type {
			case "planb":
				if len(l.planb) > 0 {
					l.errorf(&b.DefRange, "Duplicate planb block",
						"The planb settings were already given at %s; there may be one planb block only.", l.planb[0].DefRange)
					continue
				}
				l.planb = append(l.planb, b)
			case "variable":
				l.declareVariable(b)
			case "locals":
				attrs, diags := b.Body.JustAttributes()
				l.diags = append(l.diags, diags...)
				names := make([]string, 0, len(attrs))
				for name := range attrs {
					names = append(names, name)
				}
				sort.Strings(names)
				for _, name := range names {
					a := attrs[name]
					if prev, dup := l.locals[name]; dup {
						l.errorf(&a.NameRange, "Duplicate local value definition",
							"A local value named %q was already defined at %s. Local value names must be unique.", name, prev.Range)
						continue
					}
					l.locals[name] = a
				}
			case kindDatabase, kindStore, kindRetention:
				l.blocks[b.Type][b.Labels[0]] = b
			case "drill":
				l.drills = append(l.drills, b)
			case "notify":
				l.notifiers = append(l.notifiers, b)
			default:
				l.collectResource(b)
			}
		}
	}
}

// errorf appends an error diagnostic.
func (l *loader) errorf(subject *hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

// warnf appends a warning diagnostic.
func (l *loader) warnf(subject *hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

// finish sorts the diagnostics by position, drops repeats (an error in a
// for_each block is found once per instance) and removes evaluation
// contexts that could render a sensitive value.
func (l *loader) finish() hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		rng             hcl.Range
	}
	seen := map[key]bool{}
	out := make(hcl.Diagnostics, 0, len(l.diags))
	for _, d := range l.diags {
		k := key{sev: d.Severity, summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.rng = *d.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		if d.EvalContext != nil && d.Expression != nil && exposesSensitive(d.Expression, d.EvalContext) {
			d.EvalContext = nil
			d.Expression = nil
		}
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		if c := cmp.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte)
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// exposesSensitive reports whether rendering the values expr refers to
// (as hcl's text writer does) could show a sensitive value.
func exposesSensitive(expr hcl.Expression, ctx *hcl.EvalContext) bool {
	for _, t := range expr.Variables() {
		v, diags := t.TraverseAbs(ctx)
		if !diags.HasErrors() && v.ContainsMarked() {
			return true
		}
	}
	return false
}

// digest hashes the file names and contents, the non-sensitive variable
// values and the evaluated configuration without secrets and source
// ranges (which also covers what env() and file() returned).
func (l *loader) digest(files []sourceFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "file %q %d\n", f.name, len(f.src))
		h.Write(f.src)
	}
	names := make([]string, 0, len(l.vars))
	for name := range l.vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := l.vars[name]
		if v.decl.Sensitive {
			continue
		}
		fmt.Fprintf(h, "var %q %s\n", name, valueDigestText(v.val))
	}
	fmt.Fprintf(h, "parallelism %d\n", l.cfg.Parallelism)
	fmt.Fprintf(h, "node %q\n", l.cfg.Node)
	w := bufio.NewWriter(h)
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Databases)) {
		digestValue(w, reflect.ValueOf(*l.cfg.Databases[name]))
	}
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Stores)) {
		digestValue(w, reflect.ValueOf(*l.cfg.Stores[name]))
	}
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Retentions)) {
		digestValue(w, reflect.ValueOf(*l.cfg.Retentions[name]))
	}
	for _, r := range l.cfg.Resources {
		digestValue(w, reflect.ValueOf(*r))
	}
	w.Flush()
	return hex.EncodeToString(h.Sum(nil))
}

// digestValue writes a canonical text form of v: struct fields by name,
// maps in key order. Secrets and source ranges are left out, so neither a
// rotated password nor a different --chdir spelling changes the digest.
func digestValue(w io.Writer, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			io.WriteString(w, "nil;")
			return
		}
		// Named databases, stores and retentions are digested on their
		// own; a reference to one is its name.
		switch p := v.Interface().(type) {
		case *Database:
			fmt.Fprintf(w, "database %q;", p.Name)
			return
		case *Store:
			fmt.Fprintf(w, "store %q;", p.Name)
			return
		case *Retention:
			if p.Name != "" {
				fmt.Fprintf(w, "retention %q;", p.Name)
				return
			}
		}
		digestValue(w, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[hcl.Range]() || v.Type() == reflect.TypeFor[Secret]() {
			return
		}
		io.WriteString(w, "{")
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			fmt.Fprintf(w, "%s:", v.Type().Field(i).Name)
			digestValue(w, v.Field(i))
		}
		io.WriteString(w, "}")
	case reflect.Slice, reflect.Array:
		fmt.Fprintf(w, "[%d:", v.Len())
		for i := range v.Len() {
			digestValue(w, v.Index(i))
		}
		io.WriteString(w, "]")
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) })
		fmt.Fprintf(w, "map[%d:", v.Len())
		for _, k := range keys {
			fmt.Fprintf(w, "%q=", k.String())
			digestValue(w, v.MapIndex(k))
		}
		io.WriteString(w, "]")
	case reflect.String:
		fmt.Fprintf(w, "%q;", v.String())
	default:
		fmt.Fprintf(w, "%v;", v.Interface())
	}
}

// valueDigestText is a stable text form of a variable value.
func valueDigestText(v cty.Value) string {
	if !v.IsWhollyKnown() {
		return "(unknown)"
	}
	v, _ = v.UnmarkDeep()
	doc, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return "(unencodable)"
	}
	return string(doc)
}
