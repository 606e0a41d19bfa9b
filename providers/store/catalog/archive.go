package catalog

import (
	"fmt"
	"time"
)

// Status is the state of an archive in the catalog.
type Status string

// Statuses an Archive from a store's listing can have.
const (
	StatusComplete Status = "complete"
	StatusPartial  Status = "partial"
)

// Archive is one archive (or leftover of one) in a store.
type Archive struct {
	// Store is the name of the store that holds it.
	Store string
	Ref   Ref
	// Name is the file name (the last element of the object key), e.g.
	// MAINFRAME_2026-11-25-20-30-00.zip, or with ".partial" appended for a
	// leftover of an interrupted write.
	Name string
	// Time is the backup time encoded in Name, in UTC.
	Time    time.Time
	Size    int64
	ModTime time.Time
	// Safety marks a safety backup: the state a restore replaced.
	Safety bool
	// Partial marks a leftover of an interrupted write: a <name>.partial
	// file of a local store (or an incomplete multipart upload of an object
	// store). It is never a usable backup; a store's Delete removes it.
	Partial bool
	// Writer is, for a partial leftover, the run that wrote it as the
	// store recorded it when the write began (see Cleanable); RunID is
	// empty when the store has no record of it (written by an older
	// planb, or the record was lost).
	Writer LockInfo
	// Live marks a partial whose writer still holds the resource's lock
	// in this store, unexpired and not proven gone: work in progress,
	// never cleaned.
	Live bool
	// Encrypted marks an archive an encrypted store keeps encrypted, as
	// Name + EncryptedSuffix; Size is then the encrypted size.
	Encrypted bool
}

// Status returns StatusPartial or StatusComplete.
func (a Archive) Status() Status {
	if a.Partial {
		return StatusPartial
	}
	return StatusComplete
}

// Key returns the archive's object key in its store.
func (a Archive) Key() string { return a.Ref.Key(a.Name) }

// LockInfo records who holds a lock; the record of a partial archive's
// writer has the same fields, without Token and Expires.
type LockInfo struct {
	// Owner is the user name of the holder's process.
	Owner string    `json:"owner"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Time  time.Time `json:"time"`
	// Token identifies one acquisition, so that a lock taken over or
	// re-created is never mistaken for the one it replaced.
	Token string `json:"token,omitempty"`
	// RunID identifies the planb run (process) holding the lock: all its
	// locks and the partial archives it writes carry the same.
	RunID string `json:"run_id,omitempty"`
	// BootID is the holder's /proc/sys/kernel/random/boot_id,
	// PIDNamespace its PID namespace as /proc/self/ns/pid reads
	// ("pid:[4026531836]") and Start its process's start time (field 22 of
	// /proc/<pid>/stat, clock ticks after boot): with Host and PID, what
	// lets another process prove the holder gone. On Windows they are
	// "windows-boot:" and the boot time, "windows" (empty in a Windows
	// container) and the process's creation time, both in 100 ns units
	// since 1601. Empty or zero when unknown (another system, or no /proc
	// of the holder's own namespace).
	BootID       string `json:"boot_id,omitempty"`
	PIDNamespace string `json:"pid_ns,omitempty"`
	Start        uint64 `json:"start,omitempty"`
	// Expires is the deadline: past it, on the clock of the process that
	// reads it, the lock lapses unless renewed. Zero in lock files of
	// older planb versions, which have none.
	Expires time.Time `json:"expires,omitzero"`
}

// String returns "pid 123 on host h since 2026-11-25T20:30:00Z (user root)".
func (i LockInfo) String() string {
	s := fmt.Sprintf("pid %d on host %s since %s", i.PID, i.Host, i.Time.UTC().Format(time.RFC3339))
	if i.Owner != "" {
		s += " (user " + i.Owner + ")"
	}
	return s
}
