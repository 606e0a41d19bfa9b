package plan

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/planb-backup/planb/plan/config"
)

// conflictOf returns a conflict for each node outside owners that wrote
// backups (not safety backups: a restore made on another node leaves one
// without making that node a second owner) of r into store s.
func conflictOf(r *config.Resource, s *config.Store, owners []string, others []NodeArchive) []NodeConflict {
	byNode := map[string]*NodeConflict{}
	var order []string
	for _, o := range others {
		if o.Safety {
			continue
		}
		c, ok := byNode[o.Node]
		if !ok {
			c = &NodeConflict{Resource: r.Address, Store: s.Name, Node: o.Node, Owners: owners}
			byNode[o.Node] = c
			order = append(order, o.Node)
		}
		if o.Partial {
			c.Partials++
			continue
		}
		c.Archives++
		c.Newest = o.Archive // others are oldest first
	}
	sort.Strings(order)
	out := make([]NodeConflict, 0, len(order))
	for _, n := range order {
		out = append(out, *byNode[n])
	}
	return out
}

// ConflictError is nil when no node outside a resource's owners backs it
// up; else an error naming, for each such resource and store, the other
// node and what it wrote there, and the ways out. A plan with conflicts is
// not applied.
func (p *Plan) ConflictError() error {
	if len(p.Conflicts) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "another node backs up what this node (%s) backs up:", p.Node)
	others := map[string]bool{}
	for _, c := range p.Conflicts {
		others[c.Node] = true
		var what []string
		if c.Archives > 0 {
			what = append(what, fmt.Sprintf("%d archive(s), the newest %s", c.Archives, c.Newest))
		}
		if c.Partials > 0 {
			what = append(what, fmt.Sprintf("%d upload(s) under way or left over", c.Partials))
		}
		fmt.Fprintf(&b, "\n  %s in store.%s: node %s wrote %s; its owners there are %s",
			c.Resource, c.Store, c.Node, strings.Join(what, " and "), quoteNodes(c.Owners))
	}
	names := []string{p.Node}
	for n := range others {
		names = append(names, n)
	}
	sort.Strings(names[1:])
	pair := quoteNodes(names)
	fmt.Fprintf(&b, "\nOne resource, one node: this node never counts, prunes or cleans what another node wrote, and two nodes backing up one resource on their own schedules is a mistake. Remove the resource from one node's configuration; or, when the nodes share it (a failover pair), list them as its owners in every node's configuration: owners = %s on the resource, or on the store; or, when this node had another name before (a new host name), set planb { node = %s }.",
		pair, strconv.Quote(names[1]))
	return errors.New(b.String())
}

// quoteNodes returns ["a", "b"].
func quoteNodes(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
