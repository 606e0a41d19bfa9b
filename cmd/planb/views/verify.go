package views

import (
	"fmt"
	"strings"

	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/facts"
)

// Verify shows what `planb verify` found, one line per archive, then the
// counts.
type Verify interface {
	// NotListed reports a store whose archives could not be listed.
	NotListed(store, why string)
	// NotTried reports an archive left untried: its store's endpoint
	// stopped answering (why).
	NotTried(r facts.ArchiveRow, why error)
	// OK reports an archive that verified; checks are the test restores
	// of --deep.
	OK(r facts.ArchiveRow, checks []runner.DeepCheck)
	// NoKey reports an archive of an encrypted store that no configured
	// identity opens.
	NoKey(r facts.ArchiveRow, err error)
	// Unchecked reports an archive whose checksums are right but whose
	// test restore could not be made.
	Unchecked(r facts.ArchiveRow, err error)
	// Unreadable reports an archive its store could not deliver.
	Unreadable(r facts.ArchiveRow, err error)
	// Failed reports a damaged archive.
	Failed(r facts.ArchiveRow, err error)
	// Totals prints the counts.
	Totals(checked, failed, unreadable int)
}

// NewVerify returns the view of verify: lines for a person.
func NewVerify(v *View) Verify { return &verifyHuman{v} }

type verifyHuman struct{ v *View }

func (h *verifyHuman) NotListed(store, why string) {
	fmt.Fprintf(h.v.Stdout, "UNREADABLE store.%s: not listed: %s\n", store, why)
}

func (h *verifyHuman) NotTried(r facts.ArchiveRow, why error) {
	fmt.Fprintf(h.v.Stdout, "UNREADABLE store.%s %s/%s: not tried: %v\n", r.Store, r.Folder, r.Archive, why)
}

func (h *verifyHuman) OK(r facts.ArchiveRow, checks []runner.DeepCheck) {
	fmt.Fprintf(h.v.Stdout, "ok      store.%s %s/%s%s%s\n", r.Store, r.Folder, r.Archive, restored(checks), keyStatus(r))
}

func (h *verifyHuman) NoKey(r facts.ArchiveRow, err error) {
	fmt.Fprintf(h.v.Stdout, "NO KEY  store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, err)
}

func (h *verifyHuman) Unchecked(r facts.ArchiveRow, err error) {
	fmt.Fprintf(h.v.Stdout, "UNCHECKED  store.%s %s/%s: checksums ok; %v\n", r.Store, r.Folder, r.Archive, err)
}

func (h *verifyHuman) Unreadable(r facts.ArchiveRow, err error) {
	fmt.Fprintf(h.v.Stdout, "UNREADABLE store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, err)
}

func (h *verifyHuman) Failed(r facts.ArchiveRow, err error) {
	fmt.Fprintf(h.v.Stdout, "FAILED  store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, err)
}

func (h *verifyHuman) Totals(checked, failed, unreadable int) {
	fmt.Fprintf(h.v.Stdout, "\n%d archive(s) verified, %d failed (damaged), %d unreadable or unchecked.\n", checked, failed, unreadable)
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
