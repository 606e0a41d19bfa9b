package runner

import "github.com/planb-backup/planb/runner/dag"

// Target is what a step of a built graph works on: a resource and, for the
// steps that run in a store, that store. Build attaches it to every step as
// the step's dag.Step.Group; the pair lock's guard, the outputs and the
// command line read it back with TargetOf.
type Target struct {
	// Resource is the address of the resource, e.g. application.MAINFRAME;
	// empty for a step outside any resource.
	Resource string
	// Store is the name of the store the step writes to; it may be empty.
	Store string
}

// TargetOf returns the Target of a step; the zero Target for a step that
// Build did not make.
func TargetOf(s dag.Step) Target {
	t, _ := s.Group.(Target)
	return t
}
