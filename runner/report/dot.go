package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
)

// WriteDOT writes g in Graphviz DOT: one box per step labelled with its
// name, steps of the same resource (runner.TargetOf) grouped in a cluster
// labelled with the resource, and an edge from each dependency to its
// dependent. The output is deterministic. The graph must be valid.
func WriteDOT(w io.Writer, g *dag.Graph) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("write graph: %w", err)
	}
	steps := g.Steps()
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph planb {")
	fmt.Fprintln(bw, "\trankdir=LR;")
	fmt.Fprintln(bw, "\tnode [shape=box];")
	var resources []string
	byResource := map[string][]dag.Step{}
	for _, s := range steps {
		r := runner.TargetOf(s).Resource
		if _, seen := byResource[r]; !seen {
			resources = append(resources, r)
		}
		byResource[r] = append(byResource[r], s)
	}
	cluster := 0
	for _, r := range resources {
		indent := "\t"
		if r != "" {
			fmt.Fprintf(bw, "\tsubgraph cluster_%d {\n\t\tlabel=%s;\n", cluster, dotQuote(r))
			cluster++
			indent = "\t\t"
		}
		for _, s := range byResource[r] {
			fmt.Fprintf(bw, "%s%s [label=%s];\n", indent, dotQuote(s.ID), dotQuote(s.Name()))
		}
		if r != "" {
			fmt.Fprintln(bw, "\t}")
		}
	}
	for _, s := range steps {
		for _, d := range s.Deps {
			fmt.Fprintf(bw, "\t%s -> %s;\n", dotQuote(d), dotQuote(s.ID))
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write graph: %w", err)
	}
	return nil
}

// dotQuote returns s as a DOT double-quoted string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}
