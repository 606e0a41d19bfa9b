package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// Local is a store in a directory of this machine:
//
//	<root>/<kind>/<name>/<name>_YYYY-MM-DD-HH-mm-SS.zip   archives
//	<root>/<kind>/<name>/<...>.zip.partial                 interrupted writes
//	<root>/locks/<kind>/<name>.lock                        resource locks (JSON)
//
// Folders are created 0700 and files 0600 when first written; a missing root
// lists as empty. Object keys map to paths below root one to one.
type Local struct {
	name   string
	root   string
	logger *slog.Logger
	// id is what lock files and partial records say about this process.
	id identity
	// lockTTL is how long a lock lives without renewal (DefaultLockTTL).
	lockTTL time.Duration
	// now is the clock of lock files: their time and deadline, and whether
	// a holder's deadline has passed. It is time.Now; tests move it
	// instead of waiting for a deadline. Waiting for a lock and the
	// renewals run on real time.
	now func() time.Time
	// renewHook, when set, runs before each renewal of a lock and fails
	// it by returning an error (tests).
	renewHook func(ctx context.Context) error
}

var _ Store = (*Local)(nil)

// NewLocal returns the local store called name (its name in the
// configuration) rooted at root, which is made absolute but not created:
// folders appear on the first write. Warnings (stale locks taken over) go to
// logger; nil discards them.
func NewLocal(name, root string, logger *slog.Logger) (*Local, error) {
	if root == "" {
		return nil, fmt.Errorf("local store %q: empty path", name)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local store %q: %w", name, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("local store %q: %s is not a directory", name, abs)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("local store %q: host name for locks: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Local{name: name, root: abs, logger: logger, id: newIdentity(host, currentUser()), lockTTL: DefaultLockTTL, now: time.Now}, nil
}

// currentUser returns the user name recorded in locks.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

// Name returns the store's name.
func (l *Local) Name() string { return l.name }

// String returns "local <root>".
func (l *Local) String() string { return "local " + l.root }

// Root returns the absolute path of the store's directory.
func (l *Local) Root() string { return l.root }

// path returns the local path of an object key.
func (l *Local) path(ref Ref, file string) string {
	return filepath.Join(l.root, ref.Kind, ref.Name, file)
}

// List implements Store. It reads the directories <root>/<kind>/ and
// <root>/<kind>/<name>/ and stats their entries (symbolic links are
// followed); it opens no archive.
func (l *Local) List(ctx context.Context) ([]Archive, error) {
	var out []Archive
	for _, kind := range catalog.Kinds {
		kindDir := filepath.Join(l.root, kind)
		names, err := readDirs(kindDir)
		if err != nil {
			return nil, fmt.Errorf("store %q: list: %w", l.name, l.unreadable(err))
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("store %q: list: %w", l.name, err)
			}
			ref := Ref{Kind: kind, Name: name}
			if ref.Validate() != nil {
				continue
			}
			as, err := l.listResource(ref)
			if err != nil {
				return nil, fmt.Errorf("store %q: list: %w", l.name, l.unreadable(err))
			}
			out = append(out, as...)
		}
	}
	slices.SortFunc(out, compareArchives)
	if err := l.attributePartials(ctx, out); err != nil {
		return nil, fmt.Errorf("store %q: list: %w", l.name, err)
	}
	return out, nil
}

// ListResource implements Store.
func (l *Local) ListResource(ctx context.Context, ref Ref) ([]Archive, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("store %q: list: %w", l.name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: list: %w", l.name, err)
	}
	out, err := l.listResource(ref)
	if err != nil {
		return nil, fmt.Errorf("store %q: list: %w", l.name, l.unreadable(err))
	}
	slices.SortFunc(out, compareArchives)
	if err := l.attributePartials(ctx, out); err != nil {
		return nil, fmt.Errorf("store %q: list: %w", l.name, err)
	}
	return out, nil
}

// unreadable marks an error reading the store's folders as the store
// being unreachable (a mount that is gone, permissions, an I/O error): it
// says nothing about the archives, and the plans of other stores go on.
func (l *Local) unreadable(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	return &UnreachableError{Endpoint: l.root, Local: true, Cause: l.pathCause(pe), Err: err}
}

// pathCause words a failure on a path below the store's root relative to
// it, since the message names the root already: "open applications: not a
// directory", or only "permission denied" for the root itself.
func (l *Local) pathCause(pe *fs.PathError) string {
	rel, err := filepath.Rel(l.root, pe.Path)
	switch {
	case err != nil || strings.HasPrefix(rel, ".."):
		return pe.Error()
	case rel == ".":
		return pe.Err.Error()
	}
	return fmt.Sprintf("%s %s: %v", pe.Op, filepath.ToSlash(rel), pe.Err)
}

// compareArchives orders by Ref, Time, complete before partial, then Name.
func compareArchives(a, b Archive) int {
	kindIndex := func(k string) int { return slices.Index(catalog.Kinds, k) }
	return cmp.Or(
		cmp.Compare(kindIndex(a.Ref.Kind), kindIndex(b.Ref.Kind)),
		cmp.Compare(a.Ref.Name, b.Ref.Name),
		a.Time.Compare(b.Time),
		cmpBool(a.Partial, b.Partial),
		cmp.Compare(a.Name, b.Name),
	)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// readDirs returns the names of the directories in dir (following symbolic
// links); nil when dir does not exist.
func readDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if fi, err := statEntry(dir, e); err == nil && fi.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// statEntry returns the file info of a directory entry, following a symbolic
// link.
func statEntry(dir string, e fs.DirEntry) (fs.FileInfo, error) {
	if e.Type()&fs.ModeSymlink != 0 {
		return os.Stat(filepath.Join(dir, e.Name()))
	}
	return e.Info()
}

// listResource lists the archives in one resource folder.
func (l *Local) listResource(ref Ref) ([]Archive, error) {
	dir := filepath.Join(l.root, ref.Kind, ref.Name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Archive
	for _, e := range entries {
		res, t, partial, ok := catalog.ParseArchiveName(e.Name())
		if !ok || res != ref.Name {
			continue
		}
		fi, err := statEntry(dir, e)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while listing, or a dangling link
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, Archive{
			Store: l.name, Ref: ref, Name: e.Name(), Time: t,
			Size: fi.Size(), ModTime: fi.ModTime(), Partial: partial, Safety: catalog.IsSafety(e.Name()),
		})
	}
	return out, nil
}

// Create implements Store. It writes <name>.partial (0600) in the resource
// folder, creating folders 0700, and records this run as its writer (see
// Cleanable). It fails early with fs.ErrExist when the archive exists
// already, so that no time is spent writing a backup that Commit would
// refuse.
func (l *Local) Create(ctx context.Context, ref Ref, name string) (Upload, error) {
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: create: %w", l.name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: create %s: %w", l.name, ref.Key(name), err)
	}
	final := l.path(ref, name)
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("store %q: create %s: %w", l.name, ref.Key(name), fs.ErrExist)
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	partial := final + PartialSuffix
	if _, err := os.Lstat(partial); err == nil {
		return nil, fmt.Errorf("store %q: %w", l.name, &fs.PathError{Op: "create", Path: partial, Err: fs.ErrExist})
	}
	// The writer is recorded before the partial exists: a partial killed
	// at any point has a writer the next plan can prove gone.
	if err := writePartialRecord(ctx, l, ref, name, l.id.record(l.now())); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		l.forgetPartial(ref, name)
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	return &localUpload{ctx: ctx, store: l, f: f, partial: partial, final: final, ref: ref, name: name}, nil
}

// localUpload writes one archive of a Local store. It can be read back, so
// archives are verified before they become visible.
var _ ReadBacker = (*localUpload)(nil)

type localUpload struct {
	ctx     context.Context
	store   *Local
	partial string
	final   string
	ref     Ref
	name    string

	mu        sync.Mutex
	f         *os.File // nil once closed
	committed bool
	aborted   bool
}

func (u *localUpload) Write(p []byte) (int, error) {
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.f == nil {
		return 0, fmt.Errorf("store %q: write %s: upload already finished", u.store.name, u.partial)
	}
	return u.f.Write(p)
}

// ReadBack returns what was written so far, for verifying an archive
// before Commit makes it visible. The partial file is fsynced first, so what
// is verified is what is on disk.
func (u *localUpload) ReadBack() (io.ReaderAt, int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.f == nil {
		return nil, 0, fmt.Errorf("store %q: read back %s: upload already finished", u.store.name, u.partial)
	}
	if err := u.f.Sync(); err != nil {
		return nil, 0, fmt.Errorf("store %q: %w", u.store.name, err)
	}
	st, err := u.f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("store %q: %w", u.store.name, err)
	}
	return u.f, st.Size(), nil
}

// Commit fsyncs the partial file, renames it to the archive name without
// replacing an existing file, and fsyncs the folders up to the root so the
// rename and any new folders survive a power loss.
func (u *localUpload) Commit(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.committed:
		return nil
	case u.aborted || u.f == nil:
		return fmt.Errorf("store %q: commit %s: upload was aborted or failed", u.store.name, u.final)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %q: commit %s: %w", u.store.name, u.final, err)
	}
	f := u.f
	u.f = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store %q: %w", u.store.name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store %q: %w", u.store.name, err)
	}
	if err := renameNoReplace(u.partial, u.final); err != nil {
		return fmt.Errorf("store %q: commit: %w", u.store.name, err)
	}
	u.committed = true
	u.store.forgetPartial(u.ref, u.name)
	dir := filepath.Dir(u.final)
	for _, d := range []string{dir, filepath.Dir(dir), u.store.root} {
		if err := files.SyncDir(d); err != nil {
			return fmt.Errorf("store %q: commit %s: %w", u.store.name, u.final, err)
		}
	}
	return nil
}

// Abort closes and removes the partial file unless the upload was committed.
func (u *localUpload) Abort() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.committed || u.aborted {
		return nil
	}
	u.aborted = true
	if u.f != nil {
		u.f.Close()
		u.f = nil
	}
	if err := os.Remove(u.partial); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store %q: abort: %w", u.store.name, err)
	}
	u.store.forgetPartial(u.ref, u.name)
	return nil
}

// Open implements Store.
func (l *Local) Open(ctx context.Context, ref Ref, name string) (Object, error) {
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: open: %w", l.name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: open %s: %w", l.name, ref.Key(name), err)
	}
	f, err := os.Open(l.path(ref, name))
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("store %q: open %s: not a regular file", l.name, f.Name())
	}
	return &localObject{File: f, size: fi.Size()}, nil
}

// localObject is an archive file opened for reading. *os.File's ReadAt is
// safe for concurrent use.
type localObject struct {
	*os.File
	size int64
}

func (o *localObject) Size() int64 { return o.size }

// Delete implements Store. It fsyncs the folder after removing the file.
func (l *Local) Delete(ctx context.Context, ref Ref, name string) error {
	if err := catalog.CheckDeleteName(ref, name); err != nil {
		return fmt.Errorf("store %q: delete: %w", l.name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %q: delete %s: %w", l.name, ref.Key(name), err)
	}
	p := l.path(ref, name)
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	if err := files.SyncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("store %q: delete %s: %w", l.name, p, err)
	}
	if archive, partial := strings.CutSuffix(name, PartialSuffix); partial {
		l.forgetPartial(ref, archive)
	}
	return nil
}
