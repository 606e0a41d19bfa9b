package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of resources, the first level of a store's layout.
const (
	KindApplications = "applications"
	KindMeasurement  = "measurement"
	KindPersistence  = "persistence"
)

// Kinds lists every resource kind a store holds, in listing order.
var Kinds = []string{KindApplications, KindMeasurement, KindPersistence}

// Ref names a resource's folder in a store: <Kind>/<Name>/ where Kind is one
// of Kinds and Name is the resource's name (the application, measurement or
// persistence block label).
type Ref struct{ Kind, Name string }

// String returns "<kind>/<name>".
func (r Ref) String() string { return r.Kind + "/" + r.Name }

// Key returns the object key of file in the resource's folder:
// "<kind>/<name>/<file>".
func (r Ref) Key(file string) string { return r.Kind + "/" + r.Name + "/" + file }

// Validate checks that r can be used as a folder in any store: a known kind,
// and a name that is valid UTF-8, not empty, not "." or "..", without '/',
// '\\' or control characters.
func (r Ref) Validate() error {
	known := false
	for _, k := range Kinds {
		known = known || r.Kind == k
	}
	if !known {
		return fmt.Errorf("unknown resource kind %q (want one of %s)", r.Kind, strings.Join(Kinds, ", "))
	}
	if err := validName(r.Name); err != nil {
		return fmt.Errorf("resource name %q: %w", r.Name, err)
	}
	return nil
}

// validName checks one path segment.
func validName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return errors.New("not a name")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsAny(s, `/\`):
		return errors.New("contains a slash")
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// Status is the state of an archive in the catalog.
type Status string

// Statuses an Archive from List can have.
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
	// store). It is never a usable backup; Delete removes it.
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
	// Encrypted marks an archive an encrypted store (Encrypted) keeps
	// encrypted, as Name + EncryptedSuffix; Size is then the encrypted
	// size.
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

// PartialSuffix is appended to the name of an archive while it is written.
const PartialSuffix = ".partial"

// timeLayout is the time part of archive names.
const timeLayout = "2006-01-02-15-04-05"

// extensions are the archive formats whose names ParseArchiveName accepts:
// ZIP (the default and the original system's) and planb's opt-in tar.zst.
// A safety backup (see SafetyArchiveName) ends in ".safety.zip". Each may
// be followed by EncryptedSuffix: the archive encrypted with age.
var extensions = []string{
	SafetySuffix + EncryptedSuffix, ".zip" + EncryptedSuffix, ".tar.zst" + EncryptedSuffix,
	SafetySuffix, ".zip", ".tar.zst",
}

// SafetySuffix ends the names of safety backups: the state a restore
// replaced, taken just before it.
const SafetySuffix = ".safety.zip"

// SafetyArchiveName returns "<resource>_YYYY-MM-DD-HH-mm-SS.safety.zip",
// the name of the safety backup a restore takes at t. Safety backups are
// never the default archive to restore, and retention does not count them:
// they have their own lifetime.
func SafetyArchiveName(resource string, t time.Time) string {
	return resource + "_" + t.UTC().Format(timeLayout) + SafetySuffix
}

// IsSafety reports whether an archive name (with or without ".partial",
// encrypted or not) is a safety backup's.
func IsSafety(name string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(name, PartialSuffix), EncryptedSuffix)
	return strings.HasSuffix(base, SafetySuffix)
}

// ArchiveName returns "<resource>_YYYY-MM-DD-HH-mm-SS.zip" for t in UTC, the
// original CAST system's pattern. Sub-second precision is dropped.
func ArchiveName(resource string, t time.Time) string {
	return resource + "_" + t.UTC().Format(timeLayout) + ".zip"
}

// ParseArchiveName splits an archive file name, with or without the
// ".partial" suffix, into resource name and time (UTC). The time is the last
// "_"-separated part before the extension, so resource names may contain '_'.
// Extensions ".zip", ".safety.zip" and ".tar.zst" are recognised, each also
// with ".age" appended (encrypted). ok is false for any other
// name, including an empty resource or an impossible date.
func ParseArchiveName(file string) (resource string, t time.Time, partial bool, ok bool) {
	base, partial := strings.CutSuffix(file, PartialSuffix)
	stem := ""
	for _, ext := range extensions {
		if s, found := strings.CutSuffix(base, ext); found {
			stem = s
			break
		}
	}
	if len(stem) < len(timeLayout)+2 {
		return "", time.Time{}, false, false
	}
	resource, ts := stem[:len(stem)-len(timeLayout)-1], stem[len(stem)-len(timeLayout):]
	if stem[len(resource)] != '_' {
		return "", time.Time{}, false, false
	}
	t, err := time.ParseInLocation(timeLayout, ts, time.UTC)
	if err != nil || t.Format(timeLayout) != ts {
		return "", time.Time{}, false, false
	}
	return resource, t, partial, true
}

// checkArchiveName checks that name is a complete archive name of ref's
// resource, the only names Create and Open accept.
func checkArchiveName(ref Ref, name string) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	res, _, partial, ok := ParseArchiveName(name)
	if !ok || partial || res != ref.Name || validName(name) != nil {
		return fmt.Errorf("%q is not an archive name of %s (want %s_YYYY-MM-DD-HH-mm-SS.zip)", name, ref, ref.Name)
	}
	return nil
}

// checkDeleteName checks that name is a complete or partial archive name of
// ref's resource, the names Delete accepts.
func checkDeleteName(ref Ref, name string) error {
	return checkArchiveName(ref, strings.TrimSuffix(name, PartialSuffix))
}

// Store is a place where archives are kept. Implementations are safe for
// concurrent use. Every method checks its Ref and name: an invalid ref or a
// name that is not an archive name of the ref's resource is an error before
// anything is touched.
type Store interface {
	// Name is the store's name in the configuration.
	Name() string
	// String describes the store for people: "local /var/backups/aip".
	String() string
	// List returns every archive of every resource (complete and partial),
	// sorted by Ref then Time, complete before partial. Only names that
	// parse as archive names of the folder's resource count; anything else
	// is ignored. It reads no archive contents. A store that does not exist
	// yet lists as empty.
	List(ctx context.Context) ([]Archive, error)
	// ListResource is List for the folder of one resource.
	ListResource(ctx context.Context, ref Ref) ([]Archive, error)
	// Create starts writing archive name of ref. Nothing is visible as
	// complete until Commit. Creating an archive whose partial leftover
	// still exists fails (fs.ErrExist): the leftover must be deleted first.
	Create(ctx context.Context, ref Ref, name string) (Upload, error)
	// Open opens a complete archive for reading. A missing archive is
	// fs.ErrNotExist.
	Open(ctx context.Context, ref Ref, name string) (Object, error)
	// Delete removes a complete archive (name) or a partial leftover (name
	// with ".partial"). A missing archive is fs.ErrNotExist.
	Delete(ctx context.Context, ref Ref, name string) error
	// Lock takes the lock of one resource in this store, recording who
	// holds it (LockInfo) and a deadline, which the holder renews while it
	// holds the lock (see DefaultLockTTL). When the lock is held it polls
	// until wait has passed (wait 0: one attempt) and then fails with an
	// error that errors.Is ErrLocked and whose text names the holder
	// ("locked by pid 123 on host h since …"); errors.As gives a
	// *LockedError.
	//
	// A held lock is taken over, with a warning logged, only when its
	// deadline has passed or when its holder is proven gone: it recorded
	// this host, this boot and this PID namespace, and its pid names no
	// process or one with another start time. A holder in another PID
	// namespace (a container), on another boot or host, or whose record
	// does not say, keeps the lock until its deadline.
	Lock(ctx context.Context, ref Ref, wait time.Duration) (Lock, error)
	// Records keeps small documents beside the archives (see Records).
	Records
}

// Upload is an archive being written. Writes after the context passed to
// Create is done fail with the context's error.
type Upload interface {
	io.Writer
	// Commit makes the archive visible under its name, durably. It fails
	// with fs.ErrExist if an archive of that name exists already: a backup
	// is never overwritten. After a failed Commit, call Abort.
	Commit(ctx context.Context) error
	// Abort discards the upload. It does nothing after a successful Commit,
	// so `defer up.Abort()` is the way to clean up on every error path.
	Abort() error
}

// Object is an archive opened for reading: sequentially (Read) or at any
// offset (ReadAt, which ZIP readers need), possibly concurrently with ReadAt.
type Object interface {
	io.Reader
	io.ReaderAt
	// Size is the archive's size in bytes.
	Size() int64
	Close() error
}

// Lock is a held resource lock.
type Lock interface {
	// Unlock releases the lock. Calling it again does nothing. It fails
	// with a *LostError when the lock was lost while held.
	Unlock() error
	// Info describes the lock as recorded in the store when it was taken.
	Info() LockInfo
	// Lost is closed when the lock is lost while held: its holder could
	// not renew it before its deadline came within the margin (see
	// DefaultLockTTL), or another process took it over or removed it.
	// Work under the lock must stop then: nothing more may be written.
	Lost() <-chan struct{}
	// Err is nil while the lock is held; once Lost is closed it is a
	// *LostError saying why the lock was lost.
	Err() error
}

// ErrLocked is matched (errors.Is) by the error of Store.Lock when another
// process holds the lock.
var ErrLocked = errors.New("locked")

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

// LockedError is the error of Store.Lock when the lock is held. It matches
// ErrLocked with errors.Is.
type LockedError struct {
	Store string
	Ref   Ref
	// Holder describes the current holder; zero when the lock file could
	// not be read (Detail says why).
	Holder LockInfo
	Detail string
	// Wait says, when the holder's process could not be checked, why
	// (another host, another PID namespace, …) and until when its lock
	// holds.
	Wait string
}

func (e *LockedError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("lock %s in store %q: locked (%s)", e.Ref, e.Store, e.Detail)
	}
	s := fmt.Sprintf("lock %s in store %q: locked by %s", e.Ref, e.Store, e.Holder)
	if e.Wait != "" {
		s += "; " + e.Wait
	}
	return s
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ReadBacker is implemented by uploads whose bytes can be read before Commit
// makes them visible (local stores). Archives written to them are verified
// before they are committed; other uploads are verified once committed.
type ReadBacker interface {
	// ReadBack returns what was written so far, synced to stable storage.
	ReadBack() (io.ReaderAt, int64, error)
}

// ServerSideCopier is implemented by stores that can copy an archive from
// some other stores without the data passing through this process (S3
// stores on the same endpoint). Copy uses it first.
type ServerSideCopier interface {
	// CopyFrom copies archive name of ref from src into this store under
	// the same ref and name, with Copy's guarantees: the copy is invisible
	// until complete and never overwrites an archive (fs.ErrExist). done is
	// false, with a nil error, when it cannot copy from src; then nothing
	// was touched.
	CopyFrom(ctx context.Context, src Store, ref Ref, name string) (done bool, err error)
}

// copyBufferSize is Copy's buffer: large enough that per-call costs (system
// calls, HTTP chunking) disappear next to the data.
const copyBufferSize = 1 << 20

// Copy streams archive name of srcRef from src into dst under the same ref
// and name, through dst's Create and Commit: the copy is invisible in dst
// until it is complete, and an existing archive in dst is never overwritten
// (fs.ErrExist). It takes no locks; the caller holds dst's lock of the
// resource. The number of bytes written must equal the source's size.
//
// When dst is a ServerSideCopier that can copy from src, the copy is made
// by the store's server instead of streamed through this process.
func Copy(ctx context.Context, src Store, srcRef Ref, name string, dst Store) (err error) {
	if c, ok := dst.(ServerSideCopier); ok {
		if done, err := c.CopyFrom(ctx, src, srcRef, name); done || err != nil {
			return err
		}
	}
	in, err := src.Open(ctx, srcRef, name)
	if err != nil {
		return fmt.Errorf("copy %s from store %q: %w", srcRef.Key(name), src.Name(), err)
	}
	defer in.Close()
	up, err := dst.Create(ctx, srcRef, name)
	if err != nil {
		return fmt.Errorf("copy %s to store %q: %w", srcRef.Key(name), dst.Name(), err)
	}
	defer func() {
		if err != nil {
			if aerr := up.Abort(); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
	}()
	n, err := io.CopyBuffer(up, io.NewSectionReader(in, 0, in.Size()), make([]byte, copyBufferSize))
	if err != nil {
		return fmt.Errorf("copy %s from store %q to %q: %w", srcRef.Key(name), src.Name(), dst.Name(), err)
	}
	if n != in.Size() {
		return fmt.Errorf("copy %s from store %q to %q: copied %d of %d bytes", srcRef.Key(name), src.Name(), dst.Name(), n, in.Size())
	}
	if err := up.Commit(ctx); err != nil {
		return fmt.Errorf("copy %s to store %q: %w", srcRef.Key(name), dst.Name(), err)
	}
	return nil
}
