package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// The catalog's types, re-exported so that code using stores reads
// store.Ref, store.Archive: they are the types of providers/store/catalog,
// where the names of archives are made and parsed.
type (
	// Ref names a resource's folder in a store (catalog.Ref).
	Ref = catalog.Ref
	// Archive is one archive (or leftover of one) in a store
	// (catalog.Archive).
	Archive = catalog.Archive
	// Status is the state of an archive in the catalog (catalog.Status).
	Status = catalog.Status
	// LockInfo records who holds a lock or wrote a partial archive
	// (catalog.LockInfo).
	LockInfo = catalog.LockInfo
)

// The catalog's constants, re-exported (see providers/store/catalog).
const (
	KindApplications = catalog.KindApplications
	KindMeasurement  = catalog.KindMeasurement
	KindPersistence  = catalog.KindPersistence

	StatusComplete = catalog.StatusComplete
	StatusPartial  = catalog.StatusPartial

	PartialSuffix   = catalog.PartialSuffix
	SafetySuffix    = catalog.SafetySuffix
	EncryptedSuffix = catalog.EncryptedSuffix
	PartialAge      = catalog.PartialAge
)

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
