package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/planb-backup/planb/runner/dag"
)

// WriteSummary writes the end-of-run summary of r: a line with the counts per
// status, then each failure once with its error, followed by the steps that
// were skipped because of it. Skipped steps are never listed as failures.
func WriteSummary(w io.Writer, r *dag.Result) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if r.Err != nil {
		fmt.Fprintf(bw, "Nothing was run: %v\n", r.Err)
		return
	}
	c := r.Counts()
	parts := []string{fmt.Sprintf("%d ok", c[dag.StatusOK])}
	for _, st := range []dag.Status{dag.StatusFailed, dag.StatusSkipped, dag.StatusCanceled} {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
		}
	}
	fmt.Fprintf(bw, "%s in %s: %s.\n", plural(len(r.Steps), "step"), roundDuration(r.Duration), strings.Join(parts, ", "))
	skippedBy := map[string][]dag.StepResult{}
	for _, s := range r.Steps {
		if s.Status == dag.StatusSkipped {
			skippedBy[s.SkippedBecause] = append(skippedBy[s.SkippedBecause], s)
		}
	}
	for _, f := range r.Failed() {
		fmt.Fprintf(bw, "\nFailed: %s", f.Step.Name())
		if f.Step.Name() != f.Step.ID {
			fmt.Fprintf(bw, " [%s]", f.Step.ID)
		}
		fmt.Fprintf(bw, "\n%s\n", indent(fmt.Sprint(f.Err), "  "))
		if skipped := skippedBy[f.Step.ID]; len(skipped) > 0 {
			fmt.Fprintf(bw, "  Skipped because of it (%d):\n", len(skipped))
			for _, s := range skipped {
				fmt.Fprintf(bw, "    - %s\n", s.Step.Name())
			}
		}
	}
	if n := c[dag.StatusCanceled]; n > 0 {
		fmt.Fprintf(bw, "\nInterrupted: %s canceled.\n", plural(n, "step"))
	}
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// roundDuration keeps summaries readable: milliseconds below a second,
// tenths of a second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
