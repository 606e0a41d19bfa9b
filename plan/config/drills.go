package config

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultDrillEvery is how old a resource's last restore drill may get when
// the drill does not set every.
const DefaultDrillEvery = 7 * 24 * time.Hour

// Drill is a restore drill (drill "name" { … }): every so often, one
// archive of each of its resources is restored into a scratch database and
// a scratch folder, and compared with what its manifest recorded.
type Drill struct {
	Name string
	// Every is how old the last drill of a resource may get before the
	// next one is due.
	Every time.Duration
	// Resources are the addresses of the resources drilled, sorted. By
	// default every resource with a database that no other drill lists.
	Resources []string
	// Database is the server scratch databases are created on; nil means
	// each resource's own.
	Database *Database
	// Window is how far back the archive drilled may date; 0 means the
	// newest archive only.
	Window    time.Duration
	DeclRange hcl.Range
}

// Drill returns the drill named name, or nil.
func (c *Config) Drill(name string) *Drill {
	for _, d := range c.Drills {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// DrillOf returns the drill that drills the resource with the given
// address, or nil. A resource belongs to one drill at most.
func (c *Config) DrillOf(addr string) *Drill {
	for _, d := range c.Drills {
		for _, r := range d.Resources {
			if r == addr {
				return d
			}
		}
	}
	return nil
}

var drillSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "every"},
		{Name: "applications"},
		{Name: "database"},
		{Name: "window"},
	},
}

// evalDrills decodes the drill blocks into Config.Drills once the resources
// are known. A resource is drilled by one drill at most; a drill without
// applications takes every resource with a database that no other drill
// lists, and only one drill may leave it out.
func (l *loader) evalDrills() {
	blocks := l.resBlocksByRef()
	byAddr := map[string]*Resource{}
	for _, r := range l.cfg.Resources {
		byAddr[r.Address] = r
	}
	type listed struct {
		drill *Drill
		rng   hcl.Range
	}
	owner := map[string]listed{}
	var implicit *Drill
	for _, b := range l.drills {
		content, diags := b.Body.Content(drillSchema)
		l.diags = append(l.diags, diags...)
		bd := l.body(content, l.full, scopeGlobal)
		d := &Drill{Name: b.Labels[0], DeclRange: b.DefRange}
		d.Every = bd.duration("every", DefaultDrillEvery)
		d.Window = bd.duration("window", 0)
		if db, ok := bd.ref("database", kindDatabase); ok {
			d.Database = l.cfg.Databases[db]
		}
		l.cfg.Drills = append(l.cfg.Drills, d)

		a, ok := content.Attributes["applications"]
		if !ok {
			if implicit != nil {
				l.errorf(&b.DefRange, "Two drills without applications",
					"drill.%s and drill.%s both leave applications out, so both would drill every resource. Say which resources each one drills: applications = [application.<name>, …].", implicit.Name, d.Name)
				continue
			}
			implicit = d
			continue
		}
		refs := l.parseResourceRefs(a, "applications")
		if len(refs) == 0 {
			if exprs, diags := hcl.ExprList(a.Expr); !diags.HasErrors() && len(exprs) == 0 {
				l.errorf(a.Expr.Range().Ptr(), "No resources to drill",
					"applications is empty, so the drill would restore nothing. List resources, or leave applications out to drill every resource with a database.")
			}
			continue
		}
		set := map[string]bool{}
		for _, ref := range refs {
			for _, addr := range l.resolveRef(ref, "applications", blocks, byAddr) {
				if set[addr] {
					continue
				}
				if prev, dup := owner[addr]; dup && prev.drill != d {
					rng := ref.rng
					l.errorf(&rng, "Resource drilled twice",
						"%s is drilled by drill.%s already (listed at %s); a resource belongs to one drill at most.", addr, prev.drill.Name, prev.rng)
					continue
				}
				set[addr] = true
				owner[addr] = listed{drill: d, rng: ref.rng}
			}
		}
		d.Resources = slices.Sorted(maps.Keys(set))
	}
	if implicit != nil {
		for _, r := range l.cfg.Resources {
			if _, taken := owner[r.Address]; !taken && r.Database != nil {
				implicit.Resources = append(implicit.Resources, r.Address)
			}
		}
	}
	sort.Slice(l.cfg.Drills, func(i, j int) bool { return l.cfg.Drills[i].Name < l.cfg.Drills[j].Name })
}
