package cas

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/planb-backup/planb/providers/store"
)

// RedirectFormat is the version of the Redirect this package writes.
const RedirectFormat = 1

// maxRedirects bounds how many redirects one content is followed through
// (a pack repacked, then its new pack repacked, and so on).
const maxRedirects = 16

// Redirect says where the live contents of a repacked pack went: the
// collection wrote them, byte for byte, into a new pack, stored this
// beside the old pack's place (store.PackRedirects) and deleted the old
// pack. Indexes keep naming the old pack and its offsets; a reader that
// does not find the pack looks each content up here by its old offset and
// length and checks its SHA-256 as always. It names no content hash.
type Redirect struct {
	Version int    `json:"version"`
	Pack    string `json:"pack"` // the old pack
	// Moved are the contents that went elsewhere, by old offset.
	Moved []Move `json:"moved"`
}

// Move is one content of a Redirect: Length bytes at Offset of the old
// pack are now at To in pack Target.
type Move struct {
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Target string `json:"target"`
	To     int64  `json:"to"`
}

// Span is Length bytes at Offset of a pack: one content.
type Span struct {
	Offset, Length int64
}

// ParseRedirect decodes and checks the redirect of pack old.
func ParseRedirect(old string, data []byte) (*Redirect, error) {
	var r Redirect
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("redirect of pack %s: %w", old, err)
	}
	if r.Version != RedirectFormat {
		return nil, fmt.Errorf("redirect of pack %s: format version %d, this planb reads %d", old, r.Version, RedirectFormat)
	}
	if r.Pack != old {
		return nil, fmt.Errorf("redirect of pack %s names pack %q", old, r.Pack)
	}
	for _, m := range r.Moved {
		if err := store.CheckPackID(m.Target); err != nil {
			return nil, fmt.Errorf("redirect of pack %s: %w", old, err)
		}
		if m.Offset < 0 || m.Length <= 0 || m.To < 0 {
			return nil, fmt.Errorf("redirect of pack %s: content at %d (%d bytes) moved to %d: out of range", old, m.Offset, m.Length, m.To)
		}
	}
	return &r, nil
}

// Targets returns the packs the redirect sends contents to.
func (r *Redirect) Targets() []string {
	var ids []string
	for _, m := range r.Moved {
		if !slices.Contains(ids, m.Target) {
			ids = append(ids, m.Target)
		}
	}
	return ids
}

// find returns where the content of length bytes at off went.
func (r *Redirect) find(off, length int64) (Move, bool) {
	for _, m := range r.Moved {
		if m.Offset == off && m.Length == length {
			return m, true
		}
	}
	return Move{}, false
}

// Locator tells a reader which packs a store holds and the redirects of
// those it does not.
type Locator interface {
	// Has says whether pack id is in the store.
	Has(ctx context.Context, id string) (bool, error)
	// Redirect returns the redirect of pack id, nil when it has none.
	Redirect(ctx context.Context, id string) (*Redirect, error)
}

// StoreLocator locates packs in packs with one StatPack per pack asked
// about and, when packs keeps redirects, one ReadRedirect per missing
// pack.
func StoreLocator(packs store.Packs) Locator { return storeLocator{packs} }

type storeLocator struct{ packs store.Packs }

func (l storeLocator) Has(ctx context.Context, id string) (bool, error) {
	_, err := l.packs.StatPack(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l storeLocator) Redirect(ctx context.Context, id string) (*Redirect, error) {
	rs, ok := l.packs.(store.PackRedirects)
	if !ok {
		return nil, nil
	}
	data, err := rs.ReadRedirect(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseRedirect(id, data)
}

// Resolve returns idx with the contents of packs that are gone and have a
// redirect located where the redirect says (following redirects of
// redirected packs); idx itself is not changed. A content whose pack is
// gone without a redirect that moves it keeps its place: a reader reports
// the pack missing.
func Resolve(ctx context.Context, idx *Index, loc Locator) (*Index, error) {
	out := *idx
	out.Entries = slices.Clone(idx.Entries)
	for range maxRedirects {
		moved := false
		for _, id := range out.Packs() {
			ok, err := loc.Has(ctx, id)
			if err != nil {
				return nil, err
			}
			if ok {
				continue
			}
			r, err := loc.Redirect(ctx, id)
			if err != nil {
				return nil, err
			}
			if r != nil && redirectEntries(out.Entries, r) {
				moved = true
			}
		}
		if !moved {
			return &out, nil
		}
	}
	return nil, fmt.Errorf("index of %s: more than %d redirects to follow", idx.Source, maxRedirects)
}

// redirectEntries moves the entries of r's pack that r moves; it says
// whether it moved any.
func redirectEntries(entries []Entry, r *Redirect) bool {
	moved := false
	for i := range entries {
		e := &entries[i]
		if e.Pack != r.Pack {
			continue
		}
		if m, ok := r.find(e.Offset, e.Length); ok {
			e.Pack, e.Offset = m.Target, m.To
			moved = true
		}
	}
	return moved
}

// LiveSpans returns, per pack, the distinct contents the indexes locate
// there.
func LiveSpans(indexes []*Index) map[string][]Span {
	seen := map[string]map[Span]bool{}
	for _, idx := range indexes {
		for _, e := range idx.Entries {
			if e.Type != TypeFile || e.Pack == "" {
				continue
			}
			if seen[e.Pack] == nil {
				seen[e.Pack] = map[Span]bool{}
			}
			seen[e.Pack][Span{e.Offset, e.Length}] = true
		}
	}
	out := make(map[string][]Span, len(seen))
	for id, spans := range seen {
		for s := range spans {
			out[id] = append(out[id], s)
		}
		slices.SortFunc(out[id], func(a, b Span) int { return cmp.Compare(a.Offset, b.Offset) })
	}
	return out
}

// NeedsRepack says whether a pack of size bytes of which the spans are
// live is mostly garbage: more than half its bytes belong to no content
// referenced. A pack with nothing live is not repacked but swept.
func NeedsRepack(size int64, spans []Span) bool {
	var live int64
	for _, s := range spans {
		live += s.Length
	}
	return live > 0 && 2*live < size
}

// Repack writes the spans of pack old, byte for byte and in order, into a
// new pack through packs.PutPack (so that an encrypting store encrypts
// it), reads the new pack back to check it, and returns the redirect that
// sends each span there. It neither writes the redirect nor deletes old:
// the caller does, in that order. The new pack is spooled to a temporary
// file of tmpDir ("" for the system's).
func Repack(ctx context.Context, packs store.Packs, old string, spans []Span, tmpDir string) (*Redirect, error) {
	f, err := os.CreateTemp(tmpDir, "planb-repack-*")
	if err != nil {
		return nil, fmt.Errorf("repack pack %s: %w", old, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	r := &Redirect{Version: RedirectFormat, Pack: old}
	var n int64
	for _, s := range spans {
		data, err := packs.ReadPack(ctx, old, s.Offset, s.Length)
		if err != nil {
			return nil, fmt.Errorf("repack: %w", err) // the store names the pack
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("repack pack %s: %w", old, err)
		}
		r.Moved = append(r.Moved, Move{Offset: s.Offset, Length: s.Length, To: n})
		n += s.Length
	}
	id := hex.EncodeToString(h.Sum(nil))
	for i := range r.Moved {
		r.Moved[i].Target = id
	}
	if err := packs.PutPack(ctx, id, io.NewSectionReader(f, 0, n), n); err != nil {
		return nil, fmt.Errorf("repack pack %s: %w", old, err)
	}
	back, err := packs.ReadPack(ctx, id, 0, n)
	if err != nil {
		return nil, fmt.Errorf("repack pack %s: read the new pack back: %w", old, err)
	}
	if sum := sha256.Sum256(back); hex.EncodeToString(sum[:]) != id {
		return nil, fmt.Errorf("repack pack %s: new pack %s does not read back as written", old, id)
	}
	return r, nil
}

// Marshal encodes the redirect as stored.
func (r *Redirect) Marshal() ([]byte, error) {
	return json.MarshalIndent(r, "", " ")
}
