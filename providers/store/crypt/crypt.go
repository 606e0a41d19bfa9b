// Package crypt encrypts and decrypts the objects a store keeps (archives,
// records and, once incremental delivery stores them, packs) with age
// (filippo.io/age), so that what lands in a store is a stock age file that
// `age -d -i KEY` decrypts.
//
// Encryption is public-key only: a writer needs the recipients (public
// keys), a reader the identity (a private key). Keys parses both, Encrypt
// streams an object into a store in 64 KiB chunks (nothing is buffered
// beyond one chunk), and Open gives random access to an encrypted object
// through an io.ReaderAt, decrypting only the chunks read, which is what
// ZIP readers need. Objects are authenticated chunk by chunk: bytes
// changed in the store fail the read of their chunk with an error that
// matches ErrTampered.
package crypt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// Magic starts every age file: what tells an encrypted object from a
// plain one without a key.
const Magic = "age-encryption.org/v1\n"

// ErrNoIdentity is matched by the errors of reading an encrypted object
// with no identity configured.
var ErrNoIdentity = errors.New("no identity to decrypt with")

// ErrWrongIdentity is matched by the errors of reading an object that none
// of the configured identities can open: it was encrypted to other keys.
var ErrWrongIdentity = errors.New("encrypted to other keys")

// ErrTampered is matched by the errors of reading an encrypted object whose
// bytes fail authentication: changed, cut short or not an age file.
var ErrTampered = errors.New("fails authentication")

// Keys are the keys of one store: the recipients archives are encrypted
// to, and the identity file readers decrypt with. The identity file is read
// on first use (Identities), never when Keys are made, so a command that
// only writes never touches it.
type Keys struct {
	recipients []age.Recipient
	// canonical holds the recipients as configured (one public key per
	// entry, comments and blank lines removed), sorted.
	canonical    []string
	identityFile string

	once       sync.Once
	identities []age.Identity
	idErr      error
}

// NewKeys parses recipients (each entry one public key or the text of a
// recipients file: one key per line, '#' comments) and remembers
// identityFile ("" when this configuration cannot decrypt).
func NewKeys(recipients []string, identityFile string) (*Keys, error) {
	rs, canonical, err := ParseRecipients(recipients)
	if err != nil {
		return nil, err
	}
	return &Keys{recipients: rs, canonical: canonical, identityFile: identityFile}, nil
}

// ParseRecipients parses configured recipients: age X25519 ("age1…"),
// post-quantum hybrid ("age1pq1…"), ssh-ed25519 and ssh-rsa public keys.
// An entry may hold several lines (a recipients file read with file()):
// blank lines and lines starting with '#' are skipped. The error names the
// entry (from 1) and its line. It also checks that the recipients can be
// used together (age refuses to mix post-quantum and classic keys).
func ParseRecipients(entries []string) ([]age.Recipient, []string, error) {
	var rs []age.Recipient
	var canonical []string
	for i, e := range entries {
		sc := bufio.NewScanner(strings.NewReader(e))
		line := 0
		found := false
		for sc.Scan() {
			line++
			s := strings.TrimSpace(sc.Text())
			if s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			r, err := parseRecipient(s)
			if err != nil {
				return nil, nil, &RecipientError{Entry: i + 1, Line: line, Err: err}
			}
			rs = append(rs, r)
			canonical = append(canonical, s)
			found = true
		}
		if !found {
			return nil, nil, &RecipientError{Entry: i + 1, Err: errors.New("holds no public key")}
		}
	}
	if len(rs) == 0 {
		return nil, nil, errors.New("no recipients: at least one public key is needed")
	}
	w, err := age.Encrypt(io.Discard, rs...)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("these recipients cannot be used together: %v", err)
	}
	slices.Sort(canonical)
	return rs, slices.Compact(canonical), nil
}

// RecipientError says which configured recipient does not parse.
type RecipientError struct {
	// Entry counts the configured entries from 1; Line the lines of the
	// entry from 1 (0: the entry as a whole).
	Entry, Line int
	Err         error
}

func (e *RecipientError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("recipient %d: %v", e.Entry, e.Err)
	}
	return fmt.Sprintf("recipient %d, line %d: %v", e.Entry, e.Line, e.Err)
}

func (e *RecipientError) Unwrap() error { return e.Err }

// parseRecipient parses one public key. Errors never quote the line: a
// private key pasted by mistake must not be printed.
func parseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		return nil, errors.New("this is an age private key (identity), not a public key: list the public key (age1…) it prints with age-keygen -y")
	case strings.HasPrefix(s, "age1"):
		rs, err := age.ParseRecipients(strings.NewReader(s))
		if err != nil {
			return nil, errors.New("not a valid age public key")
		}
		return rs[0], nil
	case strings.HasPrefix(s, "ssh-ed25519 "), strings.HasPrefix(s, "ssh-rsa "):
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, errors.New("not a valid SSH public key")
		}
		return r, nil
	case strings.Contains(s, "PRIVATE KEY"):
		return nil, errors.New("this is a private key, not a public key")
	}
	return nil, errors.New("not a public key (want age1…, ssh-ed25519 … or ssh-rsa …)")
}

// Fingerprint identifies the recipient set: two stores with the same
// fingerprint encrypt to the same keys, so their encrypted objects can be
// copied between them as they are. It is the first 16 hex digits of the
// SHA-256 of the sorted public keys.
func (k *Keys) Fingerprint() string {
	h := sha256.New()
	for _, c := range k.canonical {
		h.Write([]byte(c))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Recipients returns how many public keys objects are encrypted to.
func (k *Keys) Recipients() int { return len(k.recipients) }

// RecipientKeys returns the public keys objects are encrypted to, as
// configured (without comments), sorted: public, so errors may name them.
func (k *Keys) RecipientKeys() []string { return slices.Clone(k.canonical) }

// IdentityFile returns the configured identity file, "" when none is.
func (k *Keys) IdentityFile() string { return k.identityFile }

// Identities reads the identity file once and returns its identities. It
// fails with ErrNoIdentity when no file is configured, and with an error
// matching ErrNoIdentity that names the file when it cannot be read or
// holds no usable key; errors never quote the file's contents.
func (k *Keys) Identities() ([]age.Identity, error) {
	if k.identityFile == "" {
		return nil, ErrNoIdentity
	}
	k.once.Do(func() {
		k.identities, k.idErr = LoadIdentities(k.identityFile)
		if k.idErr != nil {
			k.idErr = unusableIdentity{k.idErr}
		}
	})
	return k.identities, k.idErr
}

// unusableIdentity is the error of an identity file that cannot be read or
// parsed: like no identity at all, it matches ErrNoIdentity.
type unusableIdentity struct{ err error }

func (e unusableIdentity) Error() string        { return e.err.Error() }
func (e unusableIdentity) Unwrap() error        { return e.err }
func (e unusableIdentity) Is(target error) bool { return target == ErrNoIdentity }

// LoadIdentities reads an identity file: age identities (AGE-SECRET-KEY-1…,
// one per line, as age-keygen writes them) or an unencrypted OpenSSH
// ed25519 or RSA private key. Errors name the file and never quote it.
func LoadIdentities(path string) ([]age.Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity file: %w", err)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			return nil, fmt.Errorf("identity file %s: not an unencrypted OpenSSH ed25519 or RSA private key", path)
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %v", path, err)
	}
	return ids, nil
}

// Encrypt returns a writer that encrypts what is written to it into dst,
// for the recipients. Close writes the last chunk; without it the object
// is incomplete. Memory use is one 64 KiB chunk.
func (k *Keys) Encrypt(dst io.Writer) (io.WriteCloser, error) {
	return age.Encrypt(dst, k.recipients...)
}

// Seal encrypts a small object (a record) in memory.
func (k *Keys) Seal(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := k.Encrypt(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unseal decrypts a small object Seal made.
func (k *Keys) Unseal(data []byte) ([]byte, error) {
	ra, size, err := k.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.NewSectionReader(ra, 0, size))
}

// Open decrypts the encrypted object of size bytes that src reads. It
// reads the header and the last chunk (authenticating the plaintext size);
// other chunks are decrypted when read. The returned ReaderAt is safe for
// concurrent use; its errors match ErrTampered when the bytes fail
// authentication, and are src's own when src fails.
func (k *Keys) Open(src io.ReaderAt, size int64) (io.ReaderAt, int64, error) {
	ids, err := k.Identities()
	if err != nil {
		return nil, 0, err
	}
	t := &srcTracker{ra: src}
	ra, n, err := age.DecryptReaderAt(t, size, ids...)
	if err != nil {
		return nil, 0, t.classify(err)
	}
	return &plainReader{ra: ra, src: t}, n, nil
}

// IsEncrypted reports whether head (the first bytes of an object, at least
// len(Magic) of them) starts an age file.
func IsEncrypted(head []byte) bool { return bytes.HasPrefix(head, []byte(Magic)) }

// CheckHeader checks what can be checked of an encrypted object without a
// key: it starts with a well-formed age header naming at least one
// recipient stanza, followed by a nonce and at least one authenticated
// chunk. Its errors match ErrTampered, or are src's own.
func CheckHeader(src io.ReaderAt, size int64) error {
	const minPayload = 16 + 16 // nonce + the tag of a last, empty chunk
	t := &srcTracker{ra: src}
	hdr, err := age.ExtractHeader(io.NewSectionReader(t, 0, size))
	if err != nil {
		return t.classify(err)
	}
	if !bytes.HasPrefix(hdr, []byte(Magic)) || !bytes.Contains(hdr, []byte("\n-> ")) {
		return fmt.Errorf("%w: no age header", ErrTampered)
	}
	if size-int64(len(hdr)) < minPayload {
		return fmt.Errorf("%w: %d bytes after the header, at least %d expected", ErrTampered, size-int64(len(hdr)), minPayload)
	}
	return nil
}

// srcTracker remembers the first failed read of the encrypted bytes, so
// that a store's failure is not taken for tampering.
type srcTracker struct {
	ra  io.ReaderAt
	mu  sync.Mutex
	err error
}

func (t *srcTracker) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.ra.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return n, err
}

// classify turns a decryption error into src's own error when a read of
// src failed, ErrWrongIdentity when no identity matched, and ErrTampered
// otherwise.
func (t *srcTracker) classify(err error) error {
	t.mu.Lock()
	rerr := t.err
	t.mu.Unlock()
	var nomatch *age.NoIdentityMatchError
	switch {
	case rerr != nil:
		return rerr
	case errors.As(err, &nomatch):
		return fmt.Errorf("%w (its recipients: %s)", ErrWrongIdentity, strings.Join(nomatch.StanzaTypes, ", "))
	}
	return fmt.Errorf("%w: %v", ErrTampered, err)
}

// plainReader reads decrypted bytes, classifying failures.
type plainReader struct {
	ra  io.ReaderAt
	src *srcTracker
}

func (p *plainReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.ra.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, p.src.classify(err)
	}
	return n, err
}

// Sizes of the age format's payload: a 16-byte nonce after the header, then
// chunks of 64 KiB of plaintext, each followed by a 16-byte tag; the last
// chunk may be shorter, and an empty plaintext is one empty chunk.
const (
	nonceSize = 16
	tagSize   = 16
	chunkSize = 64 << 10
)

// EncryptedSize returns the size of the encrypted object for a plaintext of
// plain bytes whose header (with the nonce) is prefix bytes long.
func EncryptedSize(prefix, plain int64) int64 {
	chunks := max(1, (plain+chunkSize-1)/chunkSize)
	return prefix + plain + chunks*tagSize
}

// PlainSize returns the plaintext size of an encrypted object of size
// bytes whose header (without the nonce) is header bytes long; ok is false
// when no plaintext has that encrypted size.
func PlainSize(size, header int64) (plain int64, ok bool) {
	payload := size - header - nonceSize
	if payload < tagSize {
		return 0, false
	}
	chunks := (payload + chunkSize + tagSize - 1) / (chunkSize + tagSize)
	plain = payload - chunks*tagSize
	return plain, plain >= 0 && EncryptedSize(header+nonceSize, plain) == size
}

// HeaderSize returns the length of the age header that src starts with
// (without the nonce that follows it), reading no further than needed.
func HeaderSize(src io.ReaderAt, size int64) (int64, error) {
	t := &srcTracker{ra: src}
	hdr, err := age.ExtractHeader(io.NewSectionReader(t, 0, size))
	if err != nil {
		return 0, t.classify(err)
	}
	return int64(len(hdr)), nil
}
