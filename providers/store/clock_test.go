package store

import (
	"context"
	"testing"
	"time"
)

// A store's clock reads the time it stamps on what is written into it —
// here on the same machine, so within a few seconds of this host's — and
// leaves nothing that lists as a pack.
func TestPackClock(t *testing.T) {
	local, err := NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s3, _ := newS3(t)
	for _, st := range []interface {
		PackClock
		Packs
		String() string
	}{local, s3} {
		t.Run(st.String(), func(t *testing.T) {
			ctx := context.Background()
			before := time.Now().Add(-2 * time.Second)
			now, err := st.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if now.Before(before) || now.After(time.Now().Add(2*time.Second)) {
				t.Errorf("store's now %s, host's %s", now, time.Now())
			}
			if packs, err := st.ListPacks(ctx); err != nil || len(packs) != 0 {
				t.Errorf("ListPacks after Now = %v (%v), want none", packs, err)
			}
		})
	}
}
