package plan

import (
	"fmt"
	"sort"

	"github.com/planb-backup/planb/plan/config"
)

// StatusUnknown is the status of a resource in a store that could not be
// reached (Options.Unreachable): nothing is known of its archives there,
// and nothing is planned there.
const StatusUnknown Status = "unknown"

// UnreachableStore is a store that a plan could not list because it could
// not be reached, and the planned resources that use it.
type UnreachableStore struct {
	Store string `json:"store"`
	// Error says why, naming the configured endpoint or folder.
	Error     string   `json:"error"`
	Resources []string `json:"resources"`
}

// Short is how plans show the state of a resource in an unreachable
// store: "store unreachable (<why>)".
func (u UnreachableStore) Short() string { return "store unreachable (" + u.Error + ")" }

// withoutUnreachable returns the resources with the stores that could not
// be reached taken out of their stores (copies; the configuration is not
// changed), so that nothing is planned in them: no backup into them, no
// copy from or to them, no prune or clean on partial knowledge, no drill
// of their archives. Every resource/store pair taken out is recorded in p
// as StatusUnknown, and every such store in p.Unreachable.
func (p *Plan) withoutUnreachable(resources []*config.Resource, unreachable map[string]string) []*config.Resource {
	if len(unreachable) == 0 {
		return resources
	}
	byStore := map[string]*UnreachableStore{}
	out := make([]*config.Resource, 0, len(resources))
	for _, r := range resources {
		var kept []*config.Store
		for _, s := range r.Stores {
			why, down := unreachable[s.Name]
			if !down {
				kept = append(kept, s)
				continue
			}
			u := byStore[s.Name]
			if u == nil {
				u = &UnreachableStore{Store: s.Name, Error: why}
				byStore[s.Name] = u
			}
			u.Resources = append(u.Resources, r.Address)
			p.Resources = append(p.Resources, ResourceState{
				Resource: r.Address, Store: s.Name, Status: StatusUnknown, Unreachable: u.Short(),
			})
		}
		if len(kept) == len(r.Stores) {
			out = append(out, r)
			continue
		}
		c := *r
		c.Stores = kept
		out = append(out, &c)
	}
	for _, u := range byStore {
		p.Unreachable = append(p.Unreachable, *u)
	}
	sort.Slice(p.Unreachable, func(i, j int) bool { return p.Unreachable[i].Store < p.Unreachable[j].Store })
	return out
}

// UnreachableError says which stores the plan could not reach and for
// which resources nothing is planned there, or returns nil when it reached
// them all. Plan exits 4 with it, apply does all other work and then fails
// with it.
func (p *Plan) UnreachableError() error {
	if len(p.Unreachable) == 0 {
		return nil
	}
	var msg string
	for i, u := range p.Unreachable {
		if i > 0 {
			msg += "; "
		}
		msg += fmt.Sprintf("store.%s could not be reached (%s): nothing is planned there for %s", u.Store, u.Error, joinAddresses(u.Resources))
	}
	return fmt.Errorf("%s", msg)
}

// joinAddresses lists addresses for a message: "a, b and 3 more".
func joinAddresses(addrs []string) string {
	const shown = 5
	switch {
	case len(addrs) == 1:
		return addrs[0]
	case len(addrs) <= shown:
		s := addrs[0]
		for _, a := range addrs[1 : len(addrs)-1] {
			s += ", " + a
		}
		return s + " and " + addrs[len(addrs)-1]
	}
	s := addrs[0]
	for _, a := range addrs[1:shown] {
		s += ", " + a
	}
	return fmt.Sprintf("%s and %d more", s, len(addrs)-shown)
}

// writeUnknown lists the resource/store pairs of unreachable stores.
func (p *Plan) writeUnknown(bw *errWriter, st Style) {
	var unknown []string
	for _, r := range p.Resources {
		if r.Status == StatusUnknown {
			unknown = append(unknown, fmt.Sprintf("%s in store.%s: unknown: %s", r.Resource, r.Store, r.Unreachable))
		}
	}
	bw.list(st.paint("Unknown", "33")+" (the store could not be reached; nothing is planned there, and apply fails naming it):", unknown)
}

// named reports whether name is one of names.
func named(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
