package runner

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// folderDrill is a file-based persistence folder in store "node", drilled
// by drill "weekly".
func folderDrill(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"aip.mv.db": "h2 data", "sub/trace.log": strings.Repeat("x", 5000)} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("aip.mv.db", filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	node := &config.Store{Name: "node", Local: &config.LocalStore{Path: root}}
	cfg := &config.Config{
		Digest: "d",
		Stores: map[string]*config.Store{"node": node},
		Resources: []*config.Resource{{
			Kind: config.Persistence, Address: "persistence.node1", Name: "node1", Path: dir, Every: 24 * time.Hour,
			Stores: []*config.Store{node},
		}},
		Drills: []*config.Drill{{Name: "weekly", Every: 7 * 24 * time.Hour, Resources: []string{"persistence.node1"}}},
	}
	return cfg, root
}

// applyAt plans as of now with what the store recorded of the drills,
// applies the plan and returns it with the result.
func applyAt(t *testing.T, cfg *config.Config, now time.Time) (*plan.Plan, *dag.Result, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.NewLocal("node", cfg.Stores["node"].Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	archives, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ReadDrillRecord(ctx, st, store.Ref{Kind: "persistence", Name: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]*plan.DrillRecord{}
	if rec != nil {
		facts["persistence.node1"] = rec
	}
	p, err := plan.Make(cfg, plan.Catalog{"node": archives}, plan.Options{Now: now, Drills: facts})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": st}})
	if err != nil {
		t.Fatal(err)
	}
	return p, dag.Run(ctx, g, dag.Options{}), st
}

// rewriteManifest rewrites the archive at path with its manifest changed
// by edit; every other entry is copied as it was.
func rewriteManifest(t *testing.T, path string, edit func(m *archive.Manifest)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if f.Name != archive.ManifestName {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rc, _ := f.Open()
		raw, _ := io.ReadAll(rc)
		rc.Close()
		var m archive.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(&m)
		raw, _ = json.Marshal(&m)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
