package views

import (
	"fmt"
	"strings"

	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/check"
	"github.com/planb-backup/planb/runner/facts"
)

// Verify shows what `planb verify` found, one line per archive, then the
// counts.
type Verify interface {
	// NotListed reports a store whose archives could not be listed.
	NotListed(store, why string)
	// Archive reports the verdict on one archive.
	Archive(r check.Result)
	// Totals prints the counts.
	Totals(t check.Totals)
}

// NewVerify returns the view of verify: lines for a person.
func NewVerify(v *View) Verify { return &verifyHuman{v} }

type verifyHuman struct{ v *View }

func (h *verifyHuman) NotListed(store, why string) {
	fmt.Fprintf(h.v.Stdout, "UNREADABLE store.%s: not listed: %s\n", store, why)
}

// verdictLines are the line of each verdict but OK: its mark, then the
// text after the archive's name, given the reason.
var verdictLines = map[check.Verdict]string{
	check.NotTried:   "UNREADABLE %s: not tried: %v\n",
	check.NoKey:      "NO KEY  %s: %v\n",
	check.Unchecked:  "UNCHECKED  %s: checksums ok; %v\n",
	check.Unreadable: "UNREADABLE %s: %v\n",
	check.Damaged:    "FAILED  %s: %v\n",
}

func (h *verifyHuman) Archive(res check.Result) {
	r := res.Archive
	name := fmt.Sprintf("store.%s %s/%s", r.Store, r.Folder, r.Archive)
	if res.Verdict == check.OK {
		fmt.Fprintf(h.v.Stdout, "ok      %s%s%s\n", name, restored(res.Checks), keyStatus(r))
		return
	}
	fmt.Fprintf(h.v.Stdout, verdictLines[res.Verdict], name, reason(res.Err, r.Store, r.Folder+"/"+r.Archive))
}

// reason is err without the context the line names already: the store's
// `store "<name>": ` and an `open <key>: ` of the archive, which the
// store's errors begin with.
func reason(err error, storeName, key string) string {
	if err == nil {
		return "<nil>"
	}
	s := strings.TrimPrefix(err.Error(), fmt.Sprintf("store %q: ", storeName))
	return strings.TrimPrefix(s, "open "+key+": ")
}

func (h *verifyHuman) Totals(t check.Totals) {
	fmt.Fprintf(h.v.Stdout, "\n%d archive(s) verified, %d failed (damaged), %d unreadable or unchecked.\n", t.Checked, t.Failed, t.Unreadable)
}

// restored says what the test restores of --deep restored: "" when none
// were made.
func restored(checks []runner.DeepCheck) string {
	var parts []string
	for _, c := range checks {
		parts = append(parts, fmt.Sprintf("%s: %d tables, %d rows", c.Schema, c.Tables, c.Rows))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (restored " + strings.Join(parts, "; ") + ")"
}

// keyStatus says how an archive of an encrypted store was stored and
// opened: "" in a plain store.
func keyStatus(r facts.ArchiveRow) string {
	e, ok := r.Handle.(*store.Encrypted)
	switch {
	case !ok:
		return ""
	case !r.Encrypted:
		return " (stored plain: written before store." + r.Store + " was encrypted)"
	}
	return " (encrypted; opened with " + e.Keys().IdentityFile() + ")"
}
