package views

import (
	"fmt"

	"github.com/planb-backup/planb/plan"
)

// Plan shows a plan made by `planb plan` or loaded by `planb show`.
type Plan interface {
	// Plan prints the plan.
	Plan(p *plan.Plan) error
	// Saved says where the plan was saved and how to apply exactly it.
	Saved(path string)
}

// NewPlan returns the view of a plan of the given kind.
func NewPlan(k Kind, v *View) Plan {
	if k == JSON {
		return &planJSON{v}
	}
	return &planHuman{v}
}

type planHuman struct{ v *View }

func (h *planHuman) Plan(p *plan.Plan) error {
	return p.WriteHuman(h.v.Stdout, plan.Style{Color: h.v.ColorStdout()})
}

func (h *planHuman) Saved(path string) {
	fmt.Fprintf(h.v.Stdout, "\nSaved the plan to %s. Apply exactly this plan with: planb apply %s\n", path, path)
}

// planJSON prints the plan as one JSON document (plan.WriteJSON).
type planJSON struct{ v *View }

func (j *planJSON) Plan(p *plan.Plan) error { return p.WriteJSON(j.v.Stdout) }

// Saved says nothing: the JSON document is the whole output.
func (j *planJSON) Saved(string) {}
