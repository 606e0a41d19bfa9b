package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/planb-backup/planb/providers/store/crypt"
)

var _ Packs = (*Encrypted)(nil)

// packs returns the wrapped store's packs.
func (e *Encrypted) packs() (Packs, error) {
	p, ok := e.inner.(Packs)
	if !ok {
		return nil, fmt.Errorf("store %q keeps no packs", e.Name())
	}
	return p, nil
}

// PutPack implements Packs: the pack is encrypted whole, as it streams into
// the wrapped store's PutPack (which makes it visible only complete), under
// the same id: the SHA-256 of the plain pack. It needs only the recipients.
func (e *Encrypted) PutPack(ctx context.Context, id string, r io.Reader, size int64) error {
	p, err := e.packs()
	if err != nil {
		return err
	}
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", e.Name(), err)
	}
	var head bytes.Buffer
	sw := &switchWriter{w: &head}
	enc, err := e.keys.Encrypt(sw)
	if err != nil {
		return fmt.Errorf("store %q: encrypt pack %s: %w", e.Name(), id, err)
	}
	total := crypt.EncryptedSize(int64(head.Len()), size)
	pr, pw := io.Pipe()
	sw.w = pw
	done := make(chan error, 1)
	go func() {
		_, err := pw.Write(head.Bytes())
		if err == nil {
			var n int64
			n, err = io.Copy(enc, io.LimitReader(r, size))
			if err == nil && n != size {
				err = fmt.Errorf("read %d bytes of pack %s, want %d", n, id, size)
			}
		}
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err = p.PutPack(ctx, id, pr, total)
	pr.CloseWithError(io.ErrClosedPipe) // a pack that existed already was not read
	if werr := <-done; err == nil && werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("store %q: write encrypted pack %s: %w", e.Name(), id, err)
	}
	return nil
}

// switchWriter writes to w, which can be replaced between writes.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// ReadPack implements Packs: length plain bytes at plain offset off. It
// needs the identity: it reads the pack's header and last chunk, then the
// chunks that hold the range, in reads of at least 1 MiB.
func (e *Encrypted) ReadPack(ctx context.Context, id string, off, length int64) ([]byte, error) {
	p, err := e.packs()
	if err != nil {
		return nil, err
	}
	size, err := p.StatPack(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := e.CanDecrypt(); err != nil {
		return nil, fmt.Errorf("read pack %s: %w", id, err)
	}
	ra, plain, err := e.keys.Open(&packReader{ctx: ctx, p: p, id: id, size: size}, size)
	if err != nil {
		return nil, fmt.Errorf("store %q: decrypt pack %s: %w", e.Name(), id, err)
	}
	if off < 0 || length < 0 || off+length > plain {
		return nil, fmt.Errorf("store %q: read pack %s at %d (%d bytes): the pack holds %d bytes", e.Name(), id, off, length, plain)
	}
	data := make([]byte, length)
	if _, err := ra.ReadAt(data, off); err != nil && !(errors.Is(err, io.EOF) && off+length == plain) {
		return nil, fmt.Errorf("store %q: read pack %s at %d (%d bytes): %w", e.Name(), id, off, length, err)
	}
	return data, nil
}

// StatPack implements Packs: the plain size of pack id, computed from its
// encrypted size and header (one small read); no key needed.
func (e *Encrypted) StatPack(ctx context.Context, id string) (int64, error) {
	p, err := e.packs()
	if err != nil {
		return 0, err
	}
	size, err := p.StatPack(ctx, id)
	if err != nil {
		return 0, err
	}
	header, err := crypt.HeaderSize(&packReader{ctx: ctx, p: p, id: id, size: size}, size)
	if err != nil {
		return 0, fmt.Errorf("store %q: pack %s: %w", e.Name(), id, err)
	}
	plain, ok := crypt.PlainSize(size, header)
	if !ok {
		return 0, fmt.Errorf("store %q: pack %s: %w: %d bytes cannot be an encrypted pack", e.Name(), id, crypt.ErrTampered, size)
	}
	return plain, nil
}

// ListPacks implements Packs. Sizes are the stored (encrypted) sizes: 16
// bytes per 64 KiB and a header of a few hundred bytes more than the plain
// packs' (StatPack gives the plain size of one).
func (e *Encrypted) ListPacks(ctx context.Context) ([]PackInfo, error) {
	p, err := e.packs()
	if err != nil {
		return nil, err
	}
	return p.ListPacks(ctx)
}

// TouchPack implements PackToucher when the wrapped store does; the time
// of an encrypted pack is the time of its ciphertext.
func (e *Encrypted) TouchPack(ctx context.Context, id string) error {
	p, err := e.packs()
	if err != nil {
		return err
	}
	t, ok := p.(PackToucher)
	if !ok {
		return fmt.Errorf("store %q: packs cannot be touched", e.Name())
	}
	return t.TouchPack(ctx, id)
}

// DeletePack implements Packs.
func (e *Encrypted) DeletePack(ctx context.Context, id string) error {
	p, err := e.packs()
	if err != nil {
		return err
	}
	return p.DeletePack(ctx, id)
}

// copyMissingPacks copies the packs of from that e lacks, as they are
// (both encrypt to the same recipients), so that an archive copied without
// a key never lands without the packs it may reference: without the key
// its index cannot be read to tell which it references. A store without
// packs on either side has nothing to copy.
func (e *Encrypted) copyMissingPacks(ctx context.Context, from *Encrypted) error {
	src, ok1 := from.inner.(Packs)
	dst, ok2 := e.inner.(Packs)
	if !ok1 || !ok2 {
		return nil
	}
	have, err := dst.ListPacks(ctx)
	if err != nil {
		return fmt.Errorf("store %q: %w", e.Name(), err)
	}
	present := make(map[string]bool, len(have))
	for _, pk := range have {
		present[pk.ID] = true
	}
	list, err := src.ListPacks(ctx)
	if err != nil {
		return fmt.Errorf("store %q: %w", from.Name(), err)
	}
	for _, pk := range list {
		if present[pk.ID] {
			continue
		}
		data, err := src.ReadPack(ctx, pk.ID, 0, pk.Size)
		if err != nil {
			return fmt.Errorf("copy pack %s from store %q: %w", pk.ID, from.Name(), err)
		}
		if err := crypt.CheckHeader(bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("copy pack %s from store %q: %w", pk.ID, from.Name(), err)
		}
		if err := dst.PutPack(ctx, pk.ID, bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("copy pack %s to store %q: %w", pk.ID, e.Name(), err)
		}
	}
	return copyMissingRedirects(ctx, from, e)
}

// copyMissingRedirects copies the redirects of from's repacked packs that
// e lacks, after their packs (copyMissingPacks): redirects are clear.
func copyMissingRedirects(ctx context.Context, from, e *Encrypted) error {
	src, ok1 := from.inner.(PackRedirects)
	dst, ok2 := e.inner.(PackRedirects)
	if !ok1 || !ok2 {
		return nil
	}
	have, err := dst.ListRedirects(ctx)
	if err != nil {
		return fmt.Errorf("store %q: %w", e.Name(), err)
	}
	present := make(map[string]bool, len(have))
	for _, r := range have {
		present[r.ID] = true
	}
	list, err := src.ListRedirects(ctx)
	if err != nil {
		return fmt.Errorf("store %q: %w", from.Name(), err)
	}
	for _, r := range list {
		if present[r.ID] {
			continue
		}
		data, err := src.ReadRedirect(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("copy redirect of pack %s from store %q: %w", r.ID, from.Name(), err)
		}
		if err := dst.PutRedirect(ctx, r.ID, data); err != nil {
			return fmt.Errorf("copy redirect of pack %s to store %q: %w", r.ID, e.Name(), err)
		}
	}
	return nil
}

// packReader reads an encrypted pack through ReadPack, keeping the last
// block it fetched (at least 1 MiB) so that the 64 KiB chunk reads of a
// decryption cost one request per MiB.
type packReader struct {
	ctx  context.Context
	p    Packs
	id   string
	size int64

	mu    sync.Mutex
	off   int64
	block []byte
}

func (r *packReader) ReadAt(b []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	want := min(int64(len(b)), r.size-off)
	if off < r.off || off+want > r.off+int64(len(r.block)) {
		n := min(max(want, copyBufferSize), r.size-off)
		block, err := r.p.ReadPack(r.ctx, r.id, off, n)
		if err != nil {
			return 0, err
		}
		r.off, r.block = off, block
	}
	n := copy(b, r.block[off-r.off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
