package plan

import "encoding/json"

// MarshalJSON writes the plan document with every list present: an empty
// list is [] and an empty map {}, never null or absent, so that scripts
// iterate without checking (targets, actions, resources, orphans, foreign,
// catalog, drills, node_conflicts, unreachable_stores). Keys that apply
// only to some plans, actions or states are omitted where they do not
// apply (see docs/COMMANDS.md).
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan // without this method
	c := plain(p)
	c.Targets = orEmpty(c.Targets)
	c.Actions = orEmpty(c.Actions)
	c.Resources = orEmpty(c.Resources)
	c.Orphans = orEmpty(c.Orphans)
	if c.Foreign == nil {
		c.Foreign = map[string]int{}
	}
	c.Catalog = orEmpty(c.Catalog)
	c.Drills = orEmpty(c.Drills)
	c.Conflicts = orEmpty(c.Conflicts)
	c.Unreachable = orEmpty(c.Unreachable)
	return json.Marshal(c)
}

// MarshalJSON writes a resource state with its lists (future,
// partials_kept, damaged, other_nodes) always present.
func (r ResourceState) MarshalJSON() ([]byte, error) {
	type plain ResourceState // without this method
	c := plain(r)
	c.Future = orEmpty(c.Future)
	c.PartialsKept = orEmpty(c.PartialsKept)
	c.Damaged = orEmpty(c.Damaged)
	c.OtherNodes = orEmpty(c.OtherNodes)
	return json.Marshal(c)
}

// orEmpty returns s, or an empty slice for nil: [] in JSON, not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
