package runner

import (
	"fmt"
	"strings"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store"
)

// checkKeys refuses, before any step runs, a plan with an action that must
// decrypt archives of an encrypted store that has no usable identity: a
// restore or a drill from it, or a copy out of it into a store that does
// not encrypt to the same recipients (such a copy decrypts and encrypts
// again, or stores plain). The error lists every such action with the
// store and the setting it needs; nothing was touched.
func checkKeys(p *plan.Plan, stores map[string]store.Store) error {
	var problems []string
	need := func(a *plan.Action, from, what string) {
		st, ok := stores[from]
		if !ok {
			return
		}
		if err := store.DecryptError(st); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s (%s): %v", a.ID, what, a.Archive, err))
		}
	}
	for _, a := range p.Actions {
		switch a.Type {
		case plan.Restore, plan.Drill:
			need(a, a.Store, "reads store."+a.Store)
		case plan.Copy:
			src, dst := stores[a.FromStore], stores[a.Store]
			if src != nil && dst != nil && !store.SameEncryption(src, dst) {
				need(a, a.FromStore, "decrypts what it copies from store."+a.FromStore)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("nothing was changed: %d action(s) of this plan must decrypt archives this configuration cannot decrypt:\n  %s",
		len(problems), strings.Join(problems, "\n  "))
}
