package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/providers/store/crypt"
)

// ErrNoIdentity is matched by the errors of reading an encrypted archive or
// record in a store configured without an identity file.
var ErrNoIdentity = crypt.ErrNoIdentity

// ErrWrongIdentity is matched by the errors of opening an archive the
// configured identity cannot decrypt: it was encrypted to other keys.
var ErrWrongIdentity = crypt.ErrWrongIdentity

// ErrTampered is matched by the errors of reading an encrypted archive whose
// bytes fail authentication: they changed in the store.
var ErrTampered = crypt.ErrTampered

// Encrypted is a Store that encrypts what it keeps with age: archives are
// encrypted on their way into the store it wraps, in 64 KiB chunks as they
// are written, and stored as "<name>.age"; Open decrypts with random
// access. Everything a plan needs (List: names, times, sizes; locks; the
// records named clear) needs no key, so a host that has only the
// recipients backs up, copies into the store, prunes and cleans.
//
// Archive names above this wrapper are the plain ones ("….zip"): a copy
// between a plain and an encrypted store copies the same archive. A plain
// archive in the folder (written before encryption was configured) lists
// with Encrypted false and opens as it is.
//
// Records are sealed (encrypted to the recipients) unless their name is
// among EncryptedOptions.ClearRecords; a sealed record that is plain (older
// than the encryption) reads as it is.
type Encrypted struct {
	inner Store
	keys  *crypt.Keys
	clear map[string]bool
	// clearSuffixes keep clear the records whose names end with one.
	clearSuffixes []string
	logger        *slog.Logger
}

// EncryptedOptions configure NewEncrypted.
type EncryptedOptions struct {
	// ClearRecords are the record names kept unencrypted, because a host
	// without a key must read them to plan or to collect packs. They must
	// not hold schema, table or file names. A name that starts with "*"
	// keeps clear every record whose name ends with the rest
	// ("*.packs.json": the per-archive records of packs).
	ClearRecords []string
	Logger       *slog.Logger
}

// NewEncrypted wraps inner so that its archives are encrypted with keys.
func NewEncrypted(inner Store, keys *crypt.Keys, opts EncryptedOptions) *Encrypted {
	e := &Encrypted{inner: inner, keys: keys, clear: map[string]bool{}, logger: opts.Logger}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	for _, r := range opts.ClearRecords {
		if suffix, ok := strings.CutPrefix(r, "*"); ok {
			e.clearSuffixes = append(e.clearSuffixes, suffix)
			continue
		}
		e.clear[r] = true
	}
	return e
}

// isClear reports whether record name is kept unencrypted.
func (e *Encrypted) isClear(name string) bool {
	if e.clear[name] {
		return true
	}
	for _, s := range e.clearSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

var (
	_ Store            = (*Encrypted)(nil)
	_ ServerSideCopier = (*Encrypted)(nil)
)

// Name implements Store.
func (e *Encrypted) Name() string { return e.inner.Name() }

// String implements Store.
func (e *Encrypted) String() string { return e.inner.String() + " (encrypted with age)" }

// Inner returns the wrapped store, which holds the ciphertext.
func (e *Encrypted) Inner() Store { return e.inner }

// Keys returns the store's keys.
func (e *Encrypted) Keys() *crypt.Keys { return e.keys }

// CanDecrypt returns nil when archives of this store can be read: an
// identity file is configured and parses (it is read now, once). Otherwise
// its error names the store and the missing or broken setting.
func (e *Encrypted) CanDecrypt() error {
	if _, err := e.keys.Identities(); err != nil {
		return e.keyError(err)
	}
	return nil
}

// keyError says which setting a read needs.
func (e *Encrypted) keyError(err error) error {
	if e.keys.IdentityFile() == "" {
		return fmt.Errorf("store %q encrypts its archives and this configuration has no identity to decrypt them: set encryption { identity_file = … } in store %q to the private key of one of its recipients (%s): %w",
			e.Name(), e.Name(), strings.Join(e.keys.RecipientKeys(), ", "), crypt.ErrNoIdentity)
	}
	return fmt.Errorf("store %q: encryption.identity_file: %w", e.Name(), err)
}

// DecryptError returns nil when st's archives can be read here: st does not
// encrypt, or it has an identity. Otherwise it says which setting is
// missing.
func DecryptError(st Store) error {
	if e, ok := st.(*Encrypted); ok {
		return e.CanDecrypt()
	}
	return nil
}

// SameEncryption reports whether a and b encrypt to the same recipients,
// so that an encrypted archive of one is a valid archive of the other as
// it is (both plain counts as the same too).
func SameEncryption(a, b Store) bool {
	ea, aok := a.(*Encrypted)
	eb, bok := b.(*Encrypted)
	if aok != bok {
		return false
	}
	return !aok || ea.keys.Fingerprint() == eb.keys.Fingerprint()
}

// sealedName returns the stored name of archive name ("….zip" or
// "….zip.partial"): ".age" goes before ".partial".
func sealedName(name string) string {
	base, partial := strings.CutSuffix(name, PartialSuffix)
	if partial {
		return base + EncryptedSuffix + PartialSuffix
	}
	return name + EncryptedSuffix
}

// plainName is the inverse of sealedName; ok is false for a name without
// ".age".
func plainName(stored string) (string, bool) {
	base, partial := strings.CutSuffix(stored, PartialSuffix)
	plain, ok := strings.CutSuffix(base, EncryptedSuffix)
	if !ok {
		return stored, false
	}
	if partial {
		plain += PartialSuffix
	}
	return plain, true
}

// IsEncryptedName reports whether an archive name (with or without
// ".partial") is an encrypted archive's.
func IsEncryptedName(name string) bool {
	return strings.HasSuffix(strings.TrimSuffix(name, PartialSuffix), EncryptedSuffix)
}

// List implements Store: the inner store's archives under their plain
// names, Encrypted set for those stored encrypted. Sizes are the stored
// (encrypted) sizes.
func (e *Encrypted) List(ctx context.Context) ([]Archive, error) {
	as, err := e.inner.List(ctx)
	return e.mapList(as), err
}

// ListResource implements Store.
func (e *Encrypted) ListResource(ctx context.Context, ref Ref) ([]Archive, error) {
	as, err := e.inner.ListResource(ctx, ref)
	return e.mapList(as), err
}

func (e *Encrypted) mapList(as []Archive) []Archive {
	for i := range as {
		as[i].Name, as[i].Encrypted = plainName(as[i].Name)
	}
	return as
}

// Create implements Store: what is written is encrypted on its way into
// the inner store's upload of "<name>.age". Commit finishes the last
// chunk and checks the stored bytes against what was sent (read back
// before the commit where the inner store can, by size once committed
// otherwise). With an identity, and an inner store that reads uploads
// back, the upload is a ReadBacker that reads back decrypted.
func (e *Encrypted) Create(ctx context.Context, ref Ref, name string) (Upload, error) {
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: %w", e.Name(), err)
	}
	if IsEncryptedName(name) {
		return nil, fmt.Errorf("store %q: %q: archive names given to an encrypted store are plain (without %s)", e.Name(), name, EncryptedSuffix)
	}
	up, err := e.inner.Create(ctx, ref, sealedName(name))
	if err != nil {
		return nil, err
	}
	sent := newCountingHash()
	buf := bufio.NewWriterSize(io.MultiWriter(up, sent), copyBufferSize)
	w, err := e.keys.Encrypt(buf)
	if err != nil {
		up.Abort()
		return nil, fmt.Errorf("store %q: encrypt %s: %w", e.Name(), ref.Key(name), err)
	}
	u := &sealedUpload{e: e, ref: ref, name: name, inner: up, enc: w, buf: buf, sent: sent}
	if _, ok := up.(ReadBacker); ok && e.CanDecrypt() == nil {
		return &sealedReadBackUpload{u}, nil
	}
	return u, nil
}

// countingHash hashes and counts bytes, to compare what a store holds
// with what was sent to it. The hash is maphash (64 bits, several GB/s):
// it guards against bytes lost or changed on their way to the disk or the
// server, not against an adversary, and both sides are hashed in this
// process with one seed. Reading an encrypted archive authenticates every
// chunk anyway.
type countingHash struct {
	h maphash.Hash
	n int64
}

// hashSeed is the seed of every countingHash of this process.
var hashSeed = maphash.MakeSeed()

func newCountingHash() *countingHash {
	c := &countingHash{}
	c.h.SetSeed(hashSeed)
	return c
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// sealedUpload encrypts into an inner upload.
type sealedUpload struct {
	e     *Encrypted
	ref   Ref
	name  string
	inner Upload
	enc   io.WriteCloser
	// buf batches the encrypted chunks (64 KiB each) into writes of
	// copyBufferSize to the inner upload.
	buf  *bufio.Writer
	sent *countingHash
	// closed is set once the last chunk was written.
	closed bool
}

func (u *sealedUpload) Write(p []byte) (int, error) {
	if u.closed {
		return 0, fmt.Errorf("store %q: write %s after it was finished", u.e.Name(), u.ref.Key(u.name))
	}
	return u.enc.Write(p)
}

// finish writes the last chunk.
func (u *sealedUpload) finish() error {
	if u.closed {
		return nil
	}
	u.closed = true
	err := u.enc.Close()
	if err == nil {
		err = u.buf.Flush()
	}
	if err != nil {
		return fmt.Errorf("store %q: encrypt %s: %w", u.e.Name(), u.ref.Key(u.name), err)
	}
	return nil
}

// Commit implements Upload.
func (u *sealedUpload) Commit(ctx context.Context) error {
	if err := u.finish(); err != nil {
		return err
	}
	if rb, ok := u.inner.(ReadBacker); ok {
		ra, size, err := rb.ReadBack()
		if err == nil {
			err = u.checkStored(ra, size)
		}
		if err != nil {
			return fmt.Errorf("store %q: check %s: %w", u.e.Name(), u.ref.Key(sealedName(u.name)), err)
		}
		return u.inner.Commit(ctx)
	}
	if err := u.inner.Commit(ctx); err != nil {
		return err
	}
	obj, err := u.e.inner.Open(ctx, u.ref, sealedName(u.name))
	if err != nil {
		return fmt.Errorf("store %q: check %s: %w", u.e.Name(), u.ref.Key(sealedName(u.name)), err)
	}
	defer obj.Close()
	if obj.Size() != u.sent.n {
		err = fmt.Errorf("%d bytes stored, %d sent", obj.Size(), u.sent.n)
	} else {
		err = crypt.CheckHeader(obj, obj.Size())
	}
	if err != nil {
		derr := u.e.inner.Delete(context.WithoutCancel(ctx), u.ref, sealedName(u.name))
		return fmt.Errorf("store %q: check %s: %w", u.e.Name(), u.ref.Key(sealedName(u.name)), errors.Join(err, derr))
	}
	return nil
}

// checkStored compares the encrypted bytes read back with what was sent.
func (u *sealedUpload) checkStored(ra io.ReaderAt, size int64) error {
	if size != u.sent.n {
		return fmt.Errorf("%d bytes stored, %d sent", size, u.sent.n)
	}
	got := newCountingHash()
	if _, err := io.CopyBuffer(got, io.NewSectionReader(ra, 0, size), make([]byte, copyBufferSize)); err != nil {
		return err
	}
	if got.h.Sum64() != u.sent.h.Sum64() {
		return errors.New("the stored bytes differ from the bytes sent")
	}
	return nil
}

// Abort implements Upload.
func (u *sealedUpload) Abort() error {
	u.closed = true
	return u.inner.Abort()
}

// sealedReadBackUpload is a sealedUpload whose inner upload reads back, in
// a store that has an identity: ReadBack decrypts.
type sealedReadBackUpload struct{ *sealedUpload }

// ReadBack implements ReadBacker: it finishes the encryption and returns
// the decrypted view of what the inner upload holds. Reading it through
// authenticates every chunk, so the encrypted bytes are not hashed again
// (the caller compares the plaintext with what it wrote).
func (u *sealedReadBackUpload) ReadBack() (io.ReaderAt, int64, error) {
	if err := u.finish(); err != nil {
		return nil, 0, err
	}
	ra, size, err := u.inner.(ReadBacker).ReadBack()
	if err != nil {
		return nil, 0, err
	}
	if size != u.sent.n {
		return nil, 0, fmt.Errorf("%d bytes stored, %d sent", size, u.sent.n)
	}
	return u.e.keys.Open(ra, size)
}

// Open implements Store: an encrypted archive is decrypted (its header and
// last chunk now, other chunks as they are read); a plain archive of the
// same name (older than the encryption) opens as it is. Without an
// identity, opening an encrypted archive fails with an error matching
// ErrNoIdentity that names the store and the setting.
func (e *Encrypted) Open(ctx context.Context, ref Ref, name string) (Object, error) {
	obj, err := e.inner.Open(ctx, ref, sealedName(name))
	if errors.Is(err, fs.ErrNotExist) {
		if plain, perr := e.inner.Open(ctx, ref, name); perr == nil {
			return plain, nil
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := e.CanDecrypt(); err != nil {
		obj.Close()
		return nil, fmt.Errorf("open %s: %w", ref.Key(sealedName(name)), err)
	}
	ra, size, err := e.keys.Open(obj, obj.Size())
	if err != nil {
		obj.Close()
		if errors.Is(err, crypt.ErrWrongIdentity) {
			return nil, fmt.Errorf("store %q: %s: none of the identities in %s can decrypt it: %w",
				e.Name(), ref.Key(sealedName(name)), e.keys.IdentityFile(), err)
		}
		return nil, fmt.Errorf("store %q: decrypt %s: %w", e.Name(), ref.Key(sealedName(name)), err)
	}
	return &plainObject{SectionReader: io.NewSectionReader(ra, 0, size), inner: obj}, nil
}

// OpenSealed opens the stored (encrypted) bytes of archive name as they
// are, for copies between stores that encrypt to the same keys and for
// checks without a key. It fails with fs.ErrNotExist when the archive is
// stored plain (or not at all).
func (e *Encrypted) OpenSealed(ctx context.Context, ref Ref, name string) (Object, error) {
	return e.inner.Open(ctx, ref, sealedName(name))
}

// CheckSealed checks what can be checked of archive name without a key:
// its stored bytes start with an age header and hold at least one chunk.
// A plain archive is not checked here. Errors match ErrTampered when the
// bytes are wrong.
func (e *Encrypted) CheckSealed(ctx context.Context, ref Ref, name string) error {
	obj, err := e.inner.Open(ctx, ref, sealedName(name))
	if errors.Is(err, fs.ErrNotExist) {
		if plain, perr := e.inner.Open(ctx, ref, name); perr == nil {
			return plain.Close()
		}
	}
	if err != nil {
		return err
	}
	defer obj.Close()
	return crypt.CheckHeader(obj, obj.Size())
}

// plainObject is a decrypted archive.
type plainObject struct {
	*io.SectionReader
	inner Object
}

func (o *plainObject) Close() error { return o.inner.Close() }

// Delete implements Store: it removes the encrypted archive (or partial)
// of that name, or the plain one when there is no encrypted one.
func (e *Encrypted) Delete(ctx context.Context, ref Ref, name string) error {
	err := e.inner.Delete(ctx, ref, sealedName(name))
	if errors.Is(err, fs.ErrNotExist) {
		if perr := e.inner.Delete(ctx, ref, name); perr == nil || !errors.Is(perr, fs.ErrNotExist) {
			return perr
		}
	}
	return err
}

// Lock implements Store.
func (e *Encrypted) Lock(ctx context.Context, ref Ref, wait time.Duration) (Lock, error) {
	return e.inner.Lock(ctx, ref, wait)
}

// WriteRecord implements Records: a record not named clear is sealed.
func (e *Encrypted) WriteRecord(ctx context.Context, ref Ref, name string, data []byte) error {
	if !e.isClear(name) {
		sealed, err := e.keys.Seal(data)
		if err != nil {
			return fmt.Errorf("store %q: seal record %s: %w", e.Name(), ref.Key(name), err)
		}
		data = sealed
	}
	return e.inner.WriteRecord(ctx, ref, name, data)
}

// ReadRecord implements Records: a sealed record is decrypted, which needs
// the identity.
func (e *Encrypted) ReadRecord(ctx context.Context, ref Ref, name string) ([]byte, error) {
	data, err := e.inner.ReadRecord(ctx, ref, name)
	if err != nil || e.isClear(name) || !crypt.IsEncrypted(data) {
		return data, err
	}
	if err := e.CanDecrypt(); err != nil {
		return nil, fmt.Errorf("record %s: %w", ref.Key(name), err)
	}
	plain, err := e.keys.Unseal(data)
	if err != nil {
		return nil, fmt.Errorf("store %q: record %s: %w", e.Name(), ref.Key(name), err)
	}
	return plain, nil
}

// DeleteRecord implements Records.
func (e *Encrypted) DeleteRecord(ctx context.Context, ref Ref, name string) error {
	return e.inner.DeleteRecord(ctx, ref, name)
}

// CopyFrom implements ServerSideCopier for copies from a store that
// encrypts to the same recipients: the encrypted bytes are copied as they
// are (by the server when the inner stores can, else streamed through this
// process), no key needed. The stored bytes are checked against the
// source's: before the commit where the inner store reads back, once
// committed otherwise (then by reading them again). done is false when src
// encrypts differently or holds the archive plain. Without src's identity
// the packs src holds and e lacks are copied first, as they are (see
// copyMissingPacks).
func (e *Encrypted) CopyFrom(ctx context.Context, src Store, ref Ref, name string) (bool, error) {
	from, ok := src.(*Encrypted)
	if !ok || !SameEncryption(e, from) {
		return false, nil
	}
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return true, fmt.Errorf("store %q: copy: %w", e.Name(), err)
	}
	in, err := from.OpenSealed(ctx, ref, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // stored plain there: it is encrypted on its way
	}
	if err != nil {
		return true, fmt.Errorf("copy %s from store %q: %w", ref.Key(sealedName(name)), from.Name(), err)
	}
	defer in.Close()
	if from.CanDecrypt() != nil {
		// Without a key the archive's index of packs cannot be read: every
		// pack it may reference comes along.
		if err := e.copyMissingPacks(ctx, from); err != nil {
			return true, err
		}
	}
	if c, ok := e.inner.(ServerSideCopier); ok {
		if done, err := c.CopyFrom(ctx, from.inner, ref, sealedName(name)); done || err != nil {
			return true, err
		}
	}
	return true, e.copySealed(ctx, from, in, ref, name)
}

// copySealed streams the encrypted bytes of in into the inner store and
// checks what landed against what was read.
func (e *Encrypted) copySealed(ctx context.Context, from *Encrypted, in Object, ref Ref, name string) (err error) {
	stored := sealedName(name)
	up, err := e.inner.Create(ctx, ref, stored)
	if err != nil {
		return fmt.Errorf("copy %s to store %q: %w", ref.Key(stored), e.Name(), err)
	}
	committed := false
	defer func() {
		if !committed {
			up.Abort()
		}
	}()
	sent := newCountingHash()
	if _, err := io.CopyBuffer(io.MultiWriter(up, sent), io.NewSectionReader(in, 0, in.Size()), make([]byte, copyBufferSize)); err != nil {
		return fmt.Errorf("copy %s from store %q to %q: %w", ref.Key(stored), from.Name(), e.Name(), err)
	}
	if sent.n != in.Size() {
		return fmt.Errorf("copy %s from store %q to %q: copied %d of %d bytes", ref.Key(stored), from.Name(), e.Name(), sent.n, in.Size())
	}
	check := &sealedUpload{e: e, ref: ref, name: name, inner: up, sent: sent, closed: true}
	if err := check.Commit(ctx); err != nil {
		return err
	}
	committed = true
	if _, ok := up.(ReadBacker); ok {
		return nil
	}
	obj, err := e.inner.Open(ctx, ref, stored)
	if err == nil {
		defer obj.Close()
		err = check.checkStored(obj, obj.Size())
	}
	if err != nil {
		derr := e.inner.Delete(context.WithoutCancel(ctx), ref, stored)
		return fmt.Errorf("store %q: check the copy of %s: %w", e.Name(), ref.Key(stored), errors.Join(err, derr))
	}
	return nil
}
