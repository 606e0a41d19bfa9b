package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
)

// sealWriter hashes and counts what passes through it on the way to an
// upload, so what lands in the store can be compared with what was sent.
type sealWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newSealWriter(w io.Writer) *sealWriter { return &sealWriter{w: w, h: sha256.New()} }

func (s *sealWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

// commitChecked checks a written archive and commits it. Where the upload
// can be read back (local stores) the check comes first, so no archive
// becomes visible unchecked: the bytes on disk must hash to what was
// written, and the archive must open with every manifest entry in place.
// The entries' contents were checksummed on their way in; `planb verify`
// decompresses and re-hashes them. Elsewhere the committed object is
// checked and deleted when it fails.
func commitChecked(ctx context.Context, up store.Upload, st store.Store, ref store.Ref, name string, sent *sealWriter) error {
	return commitWritten(ctx, up, st, ref, name, sent, false)
}

// commitWritten is commitChecked; with rehash, an archive that is checked
// once committed has its bytes read again and hashed too (a copy: its
// source's bytes were checked).
//
// An encrypted store without an identity cannot read the archive back: its
// upload checks the encrypted bytes it stored against those it sent
// (store.Encrypted.Create), and the archive is committed on that check.
func commitWritten(ctx context.Context, up store.Upload, st store.Store, ref store.Ref, name string, sent *sealWriter, rehash bool) error {
	if store.DecryptError(st) != nil {
		return up.Commit(ctx)
	}
	if rb, ok := up.(store.ReadBacker); ok {
		ra, size, err := rb.ReadBack()
		if err == nil {
			err = checkWritten(ctx, ra, size, sent, true)
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		return up.Commit(ctx)
	}
	if err := up.Commit(ctx); err != nil {
		return err
	}
	return checkCommitted(ctx, st, ref, name, sent, rehash)
}

// checkCommitted checks an archive that is visible already and deletes it
// when it fails. Without rehash its bytes are not read again (that would
// download it whole): its size and its structure are checked.
func checkCommitted(ctx context.Context, st store.Store, ref store.Ref, name string, sent *sealWriter, rehash bool) error {
	obj, err := st.Open(ctx, ref, name)
	if err != nil {
		return fmt.Errorf("check %s: %w", name, err)
	}
	defer obj.Close()
	if err := checkWritten(ctx, obj, obj.Size(), sent, rehash); err != nil {
		if derr := st.Delete(ctx, ref, name); derr != nil {
			err = errors.Join(err, derr)
		}
		return fmt.Errorf("check %s: %w", name, err)
	}
	return nil
}

// checkWritten compares an archive in a store with what was sent: the size
// and, with hashBytes, the SHA-256 of every byte; then it opens the archive
// and checks that the manifest's entries are all there with their sizes.
func checkWritten(ctx context.Context, ra io.ReaderAt, size int64, sent *sealWriter, hashBytes bool) error {
	if sent != nil {
		if size != sent.n {
			return fmt.Errorf("%d bytes stored, %d written", size, sent.n)
		}
		if hashBytes {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
				return err
			}
			if !bytes.Equal(h.Sum(nil), sent.h.Sum(nil)) {
				return errors.New("the stored bytes differ from the bytes written")
			}
		}
	}
	rd, err := archive.Open(ra, size)
	if err != nil {
		return err
	}
	m, err := rd.Manifest()
	if errors.Is(err, archive.ErrNoManifest) {
		return nil
	}
	if err != nil {
		return err
	}
	have := map[string]int64{}
	for _, e := range rd.Entries() {
		have[e.Name] = e.Size
	}
	for _, e := range m.Entries {
		got, ok := have[e.Name]
		switch {
		case !ok:
			return fmt.Errorf("entry %s of the manifest is missing", e.Name)
		case got != e.Size:
			return fmt.Errorf("entry %s holds %d bytes, the manifest says %d", e.Name, got, e.Size)
		}
	}
	return ctx.Err()
}
