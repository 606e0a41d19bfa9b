package config

import (
	"fmt"
	"os"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/planb-backup/planb/plan/retention"
)

var planbSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "parallelism"}, {Name: "node"}},
}

var databaseSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true},
		{Name: "port"},
		{Name: "user"},
		{Name: "password"},
		{Name: "dbname"},
		{Name: "sslmode"},
		{Name: "bin_dir"},
	},
}

var storeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "shared"}, {Name: "owners"}, {Name: "pack_grace"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "local"}, {Type: "s3"}, {Type: "encryption"}},
}

var localStoreSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}},
}

var s3StoreSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "endpoint"},
		{Name: "bucket", Required: true},
		{Name: "prefix"},
		{Name: "region"},
		{Name: "access_key"},
		{Name: "secret_key"},
		{Name: "insecure"},
		{Name: "connect_timeout"},
		{Name: "response_timeout"},
		{Name: "idle_timeout"},
	},
}

var retentionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "keep_last"},
		{Name: "keep_hourly"},
		{Name: "keep_daily"},
		{Name: "keep_weekly"},
		{Name: "keep_monthly"},
		{Name: "keep_yearly"},
		{Name: "keep_within"},
		{Name: "max_age"},
		{Name: "safety_backups"},
	},
}

// sslModes are the libpq sslmode values.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// maxKeep bounds the keep_* counts.
const maxKeep = 1_000_000

// attrExprs lists the expressions of content's attributes.
func attrExprs(contents ...*hcl.BodyContent) []hcl.Expression {
	var out []hcl.Expression
	for _, c := range contents {
		if c == nil {
			continue
		}
		for _, a := range c.Attributes {
			out = append(out, a.Expr)
		}
	}
	return out
}

// evalPlanb decodes the planb settings block. The node defaults to the
// host name.
func (l *loader) evalPlanb() {
	nodeSet := false
	for _, b := range l.planb {
		content, diags := b.Body.Content(planbSchema)
		l.diags = append(l.diags, diags...)
		bd := l.body(content, l.full, scopeGlobal).require("node")
		l.cfg.Parallelism = bd.integer("parallelism", 0, 1, 1024)
		if _, ok := content.Attributes["node"]; ok {
			nodeSet = true
			l.cfg.Node = bd.nodeName("node")
		}
	}
	if nodeSet {
		return
	}
	hostname := l.opts.Hostname
	if hostname == nil {
		hostname = os.Hostname
	}
	l.cfg.NodeFromHost = true
	h, err := hostname()
	switch {
	case err != nil:
		l.errorf(nil, "Cannot name this node",
			"planb { node } is not set and the host name cannot be read (%s). Name the node: planb { node = \"node-a\" }.", err)
	case NodeNameProblem(h) != "":
		l.errorf(nil, "Cannot name this node",
			"planb { node } is not set, and the host name %q cannot name the node: %s. Name the node: planb { node = \"node-a\" }.", h, NodeNameProblem(h))
	default:
		l.cfg.Node = h
	}
}

// maxNodeName bounds the length of a node name (that of a DNS name).
const maxNodeName = 253

// NodeNameProblem says why s cannot name a node, or "": a node name is 1 to
// 253 ASCII letters, digits, dots, dashes and underscores, starting with a
// letter or digit (a host name fits).
func NodeNameProblem(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case len(s) > maxNodeName:
		return fmt.Sprintf("it is longer than %d characters", maxNodeName)
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '-' || c == '_'):
		case i == 0:
			return "it must start with a letter or a digit"
		default:
			return fmt.Sprintf("%q is not allowed (letters, digits, '.', '-' and '_' are)", c)
		}
	}
	return ""
}

// nodeName reads attribute name as a node name; "" when it is absent,
// unknown or invalid.
func (b *body) nodeName(name string) string {
	v, a, ok := b.get(name, cty.String)
	if !ok {
		return ""
	}
	if p := NodeNameProblem(v.AsString()); p != "" {
		b.l.errorf(a.Expr.Range().Ptr(), "Invalid node name", "%q cannot name a node: %s.", v.AsString(), p)
		b.incomplete = true
		return ""
	}
	return v.AsString()
}

// owners reads an owners attribute: a non-empty list of distinct node
// names. It returns nil when the attribute is absent, unknown or invalid,
// and reports whether it was set and known.
func (b *body) owners(name string) ([]string, bool) {
	a, present := b.attrs[name]
	if !present {
		return nil, false
	}
	list := b.strList(name)
	if list == nil {
		return nil, false
	}
	if len(list) == 0 {
		b.l.errorf(a.Expr.Range().Ptr(), "No owners",
			"%q is empty; list the nodes that share the archives, such as [\"node-a\", \"node-b\"], or leave it out.", name)
		return nil, false
	}
	seen := map[string]bool{}
	for _, n := range list {
		if p := NodeNameProblem(n); p != "" {
			b.l.errorf(a.Expr.Range().Ptr(), "Invalid node name", "%q in %s cannot name a node: %s.", n, name, p)
			return nil, false
		}
		if seen[n] {
			b.l.errorf(a.Expr.Range().Ptr(), "Duplicate owner", "%q is listed twice in %s.", n, name)
			return nil, false
		}
		seen[n] = true
	}
	return list, true
}

// databaseNode decodes a database block into Config.Databases. Its value
// in expressions carries host, port, user, dbname and sslmode, never the
// password.
func (l *loader) databaseNode(name string, b *hcl.Block) *node {
	content, diags := b.Body.Content(databaseSchema)
	l.diags = append(l.diags, diags...)
	return &node{kind: kindDatabase, name: name, exprs: attrExprs(content), eval: func(ctx *hcl.EvalContext) cty.Value {
		bd := l.body(content, ctx, scopeGlobal, "password").require("host")
		db := &Database{
			Name:      name,
			Host:      bd.nonEmpty("host", ""),
			Port:      bd.integer("port", 5432, 1, 65535),
			DBName:    bd.nonEmpty("dbname", "postgres"),
			DeclRange: b.DefRange,
		}
		if bd.incomplete {
			// The server is not known: it cannot be compared with others.
			l.unknownDBs[name] = true
		}
		db.User = bd.nonEmpty("user", "postgres")
		db.Password = bd.secretStr("password")
		db.SSLMode = bd.str("sslmode", "prefer")
		db.BinDir = bd.path("bin_dir")
		if a, ok := content.Attributes["sslmode"]; ok && !slices.Contains(sslModes, db.SSLMode) {
			l.errorf(a.Expr.Range().Ptr(), "Invalid sslmode",
				"%q is not an sslmode; use one of disable, allow, prefer, require, verify-ca, verify-full.", db.SSLMode)
			db.SSLMode = "prefer"
		}
		l.cfg.Databases[name] = db
		host := cty.StringVal(db.Host)
		if db.Host == "" {
			host = cty.UnknownVal(cty.String)
		}
		return refObject(kindDatabase, name, map[string]cty.Value{
			"host":    host,
			"port":    cty.NumberIntVal(int64(db.Port)),
			"user":    cty.StringVal(db.User),
			"dbname":  cty.StringVal(db.DBName),
			"sslmode": cty.StringVal(db.SSLMode),
		})
	}}
}

// storeNode decodes a store block into Config.Stores.
func (l *loader) storeNode(name string, b *hcl.Block) *node {
	content, diags := b.Body.Content(storeSchema)
	l.diags = append(l.diags, diags...)
	var local, s3, enc *hcl.BodyContent
	var encBlock *hcl.Block
	kinds := 0
	for _, nb := range content.Blocks {
		switch nb.Type {
		case "local":
			kinds++
			local, diags = nb.Body.Content(localStoreSchema)
		case "s3":
			kinds++
			s3, diags = nb.Body.Content(s3StoreSchema)
		case "encryption":
			if encBlock != nil {
				l.errorf(&nb.DefRange, "Duplicate encryption block", "Store %q has an encryption block already, at %s.", name, encBlock.DefRange)
				continue
			}
			encBlock = nb
			enc, diags = nb.Body.Content(encryptionSchema)
		}
		l.diags = append(l.diags, diags...)
	}
	if kinds != 1 {
		l.errorf(&b.DefRange, "Invalid store",
			"A store holds exactly one local { path = … } or s3 { … } block; this one has %d.", kinds)
	}
	return &node{kind: kindStore, name: name, exprs: attrExprs(content, local, s3, enc), eval: func(ctx *hcl.EvalContext) cty.Value {
		st := &Store{Name: name, DeclRange: b.DefRange}
		sb := l.body(content, ctx, scopeGlobal)
		st.Shared = sb.boolean("shared", false)
		st.PackGrace = sb.duration("pack_grace", DefaultPackGrace)
		if owners, ok := sb.owners("owners"); ok {
			st.Owners = owners
			l.ownerRanges[st] = content.Attributes["owners"].Expr.Range()
		}
		if enc != nil {
			st.Encryption = l.decodeEncryption(name, enc, encBlock.DefRange, l.body(enc, ctx, scopeGlobal).require("recipients"))
		}
		switch {
		case kinds != 1:
		case local != nil:
			st.Local = &LocalStore{Path: l.body(local, ctx, scopeGlobal).require("path").path("path")}
		case s3 != nil:
			bd := l.body(s3, ctx, scopeGlobal, "access_key", "secret_key").require("bucket")
			st.S3 = &S3Store{
				Endpoint:  bd.str("endpoint", ""),
				Bucket:    bd.nonEmpty("bucket", ""),
				Prefix:    bd.str("prefix", ""),
				Region:    bd.str("region", ""),
				AccessKey: bd.secretStr("access_key"),
				SecretKey: bd.secretStr("secret_key"),
				Insecure:  bd.boolean("insecure", false),

				ConnectTimeout:  bd.duration("connect_timeout", 0),
				ResponseTimeout: bd.duration("response_timeout", 0),
				IdleTimeout:     bd.duration("idle_timeout", 0),
			}
		}
		l.cfg.Stores[name] = st
		return refObject(kindStore, name, nil)
	}}
}

// retentionNode decodes a retention block into Config.Retentions.
func (l *loader) retentionNode(name string, b *hcl.Block) *node {
	content, diags := b.Body.Content(retentionSchema)
	l.diags = append(l.diags, diags...)
	return &node{kind: kindRetention, name: name, exprs: attrExprs(content), eval: func(ctx *hcl.EvalContext) cty.Value {
		l.cfg.Retentions[name] = l.decodeRetention(name, content, ctx, scopeGlobal, b.DefRange)
		return refObject(kindRetention, name, nil)
	}}
}

// decodeRetention decodes a named or inline retention block. A policy
// that keeps nothing is an error, unless it depends on unknown values.
func (l *loader) decodeRetention(name string, content *hcl.BodyContent, ctx *hcl.EvalContext, sc scope, rng hcl.Range) *Retention {
	bd := l.body(content, ctx, sc)
	r := &Retention{
		Name: name,
		Policy: retention.Policy{
			KeepLast:    bd.integer("keep_last", 0, 0, maxKeep),
			KeepHourly:  bd.integer("keep_hourly", 0, 0, maxKeep),
			KeepDaily:   bd.integer("keep_daily", 0, 0, maxKeep),
			KeepWeekly:  bd.integer("keep_weekly", 0, 0, maxKeep),
			KeepMonthly: bd.integer("keep_monthly", 0, 0, maxKeep),
			KeepYearly:  bd.integer("keep_yearly", 0, 0, maxKeep),
			KeepWithin:  bd.duration("keep_within", 0),
			MaxAge:      bd.duration("max_age", 0),
		},
		SafetyBackups: bd.duration("safety_backups", 0),
		DeclRange:     rng,
	}
	// max_age alone is the original system's "delete backups older than N
	// days": everything younger is kept.
	keeps := r.KeepLast+r.KeepHourly+r.KeepDaily+r.KeepWeekly+r.KeepMonthly+r.KeepYearly > 0 || r.KeepWithin > 0 || r.MaxAge > 0
	if !keeps && !bd.incomplete {
		l.errorf(&rng, "Retention keeps nothing",
			"Every rule of this retention is zero, so only the newest backup would survive. Set keep_last, keep_daily, …, keep_within or max_age. Leave retention out to keep every backup.")
	}
	return r
}
