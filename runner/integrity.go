package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
)

// DamagedError is the error of an archive whose bytes are wrong: it does
// not open as an archive, an entry does not match its CRC or its manifest,
// or a restore would refuse it. Reading it again will not help.
type DamagedError struct {
	Store string
	// Archive is the archive's key in its store: <kind>/<name>/<file>.
	Archive string
	Err     error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("archive %s in store.%s is damaged: %v", e.Archive, e.Store, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// UnreadableError is the error of an archive that could not be read: its
// store failed (an endpoint that does not answer, refused permissions, a
// disk error) or the archive disappeared. It says nothing about the
// archive's bytes.
type UnreadableError struct {
	Store   string
	Archive string
	Err     error
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("archive %s in store.%s could not be read: %v", e.Archive, e.Store, e.Err)
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// UncheckedError is the error of a test restore that could not be made: the
// scratch database could not be created (a user without CREATEDB), the
// server could not be reached or refused the login. It says nothing about
// the archive.
type UncheckedError struct {
	Err error
}

func (e *UncheckedError) Error() string { return "could not test-restore: " + e.Err.Error() }

func (e *UncheckedError) Unwrap() error { return e.Err }

// ReadTracker passes reads through to an archive in a store and remembers
// the first that failed, so that a check that fails can tell a store that
// could not deliver the bytes from bytes that are wrong.
type ReadTracker struct {
	ra io.ReaderAt

	mu  sync.Mutex
	err error
}

// TrackReads returns a ReadTracker reading from ra.
func TrackReads(ra io.ReaderAt) *ReadTracker { return &ReadTracker{ra: ra} }

// ReadAt implements io.ReaderAt. Reading past the end (io.EOF) is no
// failure of the store, and neither are encrypted bytes that fail
// authentication (store.ErrTampered): they are wrong bytes.
func (t *ReadTracker) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.ra.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, store.ErrTampered) {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return n, err
}

// Err returns the first read that failed, or nil.
func (t *ReadTracker) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Classify turns the error of a check of archive name of ref in the store
// named storeName, read through t, into an *UnreadableError when a read
// failed and into a *DamagedError otherwise. An interrupted check (ctx
// done) keeps its error.
func Classify(ctx context.Context, storeName string, ref store.Ref, name string, t *ReadTracker, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	if rerr := t.Err(); rerr != nil {
		return &UnreadableError{Store: storeName, Archive: ref.Key(name), Err: rerr}
	}
	return &DamagedError{Store: storeName, Archive: ref.Key(name), Err: err}
}

// checked is what checking an archive found.
type checked struct {
	size   int64
	digest string // ArchiveDigest
}

// checkArchive reads archive name of ref in st and checks it as `planb
// verify` does (VerifyArchive). Its error is a *DamagedError, an
// *UnreadableError, or the context's.
//
// In an encrypted store without an identity only what needs no key is
// checked (store.Encrypted.CheckSealed): the archive's encrypted bytes
// start with an age header and hold a chunk; the result has no digest.
func checkArchive(ctx context.Context, st store.Store, ref store.Ref, name string) (checked, error) {
	if e, ok := st.(*store.Encrypted); ok && e.CanDecrypt() != nil {
		err := e.CheckSealed(ctx, ref, name)
		if err != nil && ctx.Err() == nil {
			err = OpenError(st.Name(), ref, name, err)
		}
		return checked{}, err
	}
	obj, err := st.Open(ctx, ref, name)
	if err != nil {
		if ctx.Err() != nil {
			return checked{}, err
		}
		return checked{}, OpenError(st.Name(), ref, name, err)
	}
	defer obj.Close()
	return checkObject(ctx, st.Name(), ref, name, obj)
}

// OpenError classifies the error of opening archive name of ref in the
// store named storeName: a *DamagedError when its encrypted bytes fail
// authentication (store.ErrTampered), an *UnreadableError otherwise (the
// store failed, the archive is gone, or no identity can decrypt it).
func OpenError(storeName string, ref store.Ref, name string, err error) error {
	if errors.Is(err, store.ErrTampered) {
		return &DamagedError{Store: storeName, Archive: ref.Key(name), Err: err}
	}
	return &UnreadableError{Store: storeName, Archive: ref.Key(name), Err: err}
}

// checkObject is checkArchive for an archive opened already.
func checkObject(ctx context.Context, storeName string, ref store.Ref, name string, obj store.Object) (checked, error) {
	t := TrackReads(obj)
	rd, err := archive.Open(t, obj.Size())
	if err == nil {
		err = VerifyArchive(ctx, rd)
	}
	var digest string
	if err == nil {
		digest, err = ArchiveDigest(rd)
	}
	if err != nil {
		return checked{}, Classify(ctx, storeName, ref, name, t, err)
	}
	return checked{size: obj.Size(), digest: digest}, nil
}

// verifiedSet remembers the archives an apply wrote or checked and found
// sound, so that a prune after them need not read them again.
type verifiedSet struct {
	mu  sync.Mutex
	set map[string]bool
}

func verifiedKey(storeName string, ref store.Ref, name string) string {
	return storeName + "\x00" + ref.Key(name)
}

func (v *verifiedSet) add(storeName string, ref store.Ref, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.set == nil {
		v.set = map[string]bool{}
	}
	v.set[verifiedKey(storeName, ref, name)] = true
}

func (v *verifiedSet) has(storeName string, ref store.Ref, name string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.set[verifiedKey(storeName, ref, name)]
}
