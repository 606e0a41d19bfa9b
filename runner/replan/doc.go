// Package replan runs the plan an apply made for itself and, when steps
// found their resource's store folder changed while the apply waited for
// its lock (another apply backed up, copied or pruned meanwhile), plans
// those resources again and runs that plan too, once: the outcome of both
// runs is merged into one, with their metrics. A saved plan is run exactly
// or not at all: it is never planned again.
package replan
