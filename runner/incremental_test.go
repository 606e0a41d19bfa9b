package runner

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
)

// copyPack copies a pack the target lacks, touches one it holds, and
// refuses a pack whose bytes do not hash to its id, leaving nothing in the
// target.
func TestCopyPack(t *testing.T) {
	ctx := context.Background()
	from, err := store.NewLocal("from", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	to, err := store.NewLocal("to", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	good := putPack(t, from, strings.Repeat("content ", 5000), time.Hour)
	if err := copyPack(ctx, from, to, good); err != nil {
		t.Fatal(err)
	}
	if got, err := to.ReadPack(ctx, good, 0, 40000); err != nil || string(got) != strings.Repeat("content ", 5000) {
		t.Fatalf("copied pack reads %d bytes (%v)", len(got), err)
	}
	old := putPack(t, to, "held by the target, old", 30*24*time.Hour)
	putPack(t, from, "held by the target, old", 30*24*time.Hour)
	if err := copyPack(ctx, from, to, old); err != nil {
		t.Fatal(err)
	}
	list, err := to.ListPacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if p.ID == old && time.Since(p.ModTime) > time.Minute {
			t.Errorf("a pack the target held was not touched: %s old", time.Since(p.ModTime))
		}
	}

	wrong := strings.Repeat("0", 64)
	if err := from.PutPack(ctx, wrong, strings.NewReader("bytes that do not hash to the id"), 32); err != nil {
		t.Fatal(err)
	}
	err = copyPack(ctx, from, to, wrong)
	if !errors.As(err, new(*cas.ProblemsError)) || !strings.Contains(err.Error(), "does not match its id") {
		t.Fatalf("copy of a wrong pack: %v", err)
	}
	if _, err := to.StatPack(ctx, wrong); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the wrong pack reached the target: %v", err)
	}
}
