package cas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A pack is repacked only when more than half its bytes are garbage, and
// never when nothing of it is live (the sweep removes it).
func TestNeedsRepackThreshold(t *testing.T) {
	for _, c := range []struct {
		size  int64
		spans []Span
		want  bool
	}{
		{100, nil, false},
		{100, []Span{{0, 10}}, true},
		{100, []Span{{0, 30}, {50, 19}}, true},
		{100, []Span{{0, 50}}, false},
		{100, []Span{{0, 30}, {60, 30}}, false},
		{100, []Span{{0, 100}}, false},
	} {
		if got := NeedsRepack(c.size, c.spans); got != c.want {
			t.Errorf("NeedsRepack(%d, %v) = %v, want %v", c.size, c.spans, got, c.want)
		}
	}
}

// A pack of which one archive keeps one file is repacked; once its
// redirect is written and the old pack deleted, that archive's index
// resolves to the new pack, verifies and extracts identically, while an
// index that needed the other contents reports the pack missing.
func TestRepackAndReadThroughRedirect(t *testing.T) {
	ctx := context.Background()
	st, _ := localPacks(t)
	src := filepath.Join(t.TempDir(), "delivery")
	writeFiles(t, src, map[string]string{
		"v1/keep.txt":  randomText(4 << 10),
		"v1/gone1.bin": randomText(40 << 10),
		"v1/gone2.bin": randomText(40 << 10),
	})
	full, _, err := Build(ctx, src, st, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Packs()) != 1 {
		t.Fatalf("want one pack, got %v", full.Packs())
	}
	old := full.Packs()[0]
	// The archive that stays holds only keep.txt.
	if err := os.Remove(filepath.Join(src, "v1/gone1.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "v1/gone2.bin")); err != nil {
		t.Fatal(err)
	}
	kept, _, err := Build(ctx, src, st, BuildOptions{Parent: full, Present: present(t, st)})
	if err != nil {
		t.Fatal(err)
	}
	kept = roundTrip(t, kept)

	size, err := st.StatPack(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	spans := LiveSpans([]*Index{kept})[old]
	if len(spans) != 1 || !NeedsRepack(size, spans) {
		t.Fatalf("live spans %v of a pack of %d bytes: want one, and a repack", spans, size)
	}
	r, err := Repack(ctx, st, old, spans, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutRedirect(ctx, old, data); err != nil {
		t.Fatal(err)
	}
	if err := st.DeletePack(ctx, old); err != nil {
		t.Fatal(err)
	}
	newSize, err := st.StatPack(ctx, r.Targets()[0])
	if err != nil {
		t.Fatal(err)
	}
	if newSize != spans[0].Length {
		t.Errorf("new pack holds %d bytes, want %d", newSize, spans[0].Length)
	}

	resolved, err := Resolve(ctx, kept, StoreLocator(st))
	if err != nil {
		t.Fatal(err)
	}
	if kept.Packs()[0] != old {
		t.Fatalf("Resolve changed the index it was given")
	}
	if got := resolved.Packs(); len(got) != 1 || got[0] != r.Targets()[0] {
		t.Fatalf("resolved packs %v, want %v", got, r.Targets())
	}
	if err := CheckPacks(ctx, resolved, st); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, resolved, st); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, _, err := Extract(ctx, resolved, st, out); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, out)

	// The contents nobody kept are gone: their index says so.
	lost, err := Resolve(ctx, full, StoreLocator(st))
	if err != nil {
		t.Fatal(err)
	}
	var pe *ProblemsError
	if err := Verify(ctx, lost, st); !errors.As(err, &pe) {
		t.Fatalf("verify of the index of the lost contents: %v, want the pack missing", err)
	}
}

// A redirect that does not name its pack, or names bad targets, is refused.
func TestParseRedirectRefusesBadRedirects(t *testing.T) {
	old := "aa" + randomText(62)
	for _, data := range []string{
		`{"version":2,"pack":"` + old + `","moved":[]}`,
		`{"version":1,"pack":"` + "bb" + old[2:] + `","moved":[]}`,
		`{"version":1,"pack":"` + old + `","moved":[{"offset":0,"length":5,"target":"x","to":0}]}`,
		`{"version":1,"pack":"` + old + `","moved":[{"offset":0,"length":0,"target":"` + old + `","to":0}]}`,
	} {
		if _, err := ParseRedirect(old, []byte(data)); err == nil {
			t.Errorf("ParseRedirect accepted %s", data)
		}
	}
}
