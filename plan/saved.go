package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// ErrStale is returned when a saved plan no longer matches the
// configuration or the stores it was made from.
var ErrStale = errors.New("stale plan")

// Save writes the plan to path as JSON, mode 0600, through a temporary file
// so an interrupted save leaves no half plan. A plan holds no secret: the
// configuration's Secret values marshal as a placeholder and are not part of
// a plan anyway.
func (p *Plan) Save(path string) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := files.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// Load reads a plan saved by Save.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("read plan %s: not a planb plan file: %w", path, err)
	}
	if p.FormatVersion == "" {
		return nil, fmt.Errorf("read plan %s: not a planb plan file (no format_version)", path)
	}
	if major(p.FormatVersion) != major(FormatVersion) {
		return nil, fmt.Errorf("read plan %s: format_version %s is not supported by this planb (%s)", path, p.FormatVersion, FormatVersion)
	}
	return &p, nil
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// CheckFresh compares a saved plan with the configuration digest and the
// catalog of now. It returns an error wrapping ErrStale that names what
// changed. The folders of the stores named unreachable (they could not be
// listed now) are not compared: the plan's steps in them fail on their
// own, and the others run.
func (p *Plan) CheckFresh(configDigest string, cat Catalog, unreachable ...string) error {
	if p.ConfigDigest != configDigest {
		return fmt.Errorf("%w: the configuration changed since the plan was made; run planb plan again", ErrStale)
	}
	now := indexCatalog(cat)
	for _, f := range p.Catalog {
		if named(unreachable, f.Store) {
			continue
		}
		kind, name, _ := strings.Cut(f.Folder, "/")
		if d := p.folderChanges(f, now[folderKey{f.Store, catalog.Ref{Kind: kind, Name: name}}]); d != "" {
			return fmt.Errorf("%w: store.%s %s changed since the plan was made (%s); run planb plan again", ErrStale, f.Store, f.Folder, d)
		}
	}
	return nil
}

// CheckFolder compares one folder of one store, as listed now, with what the
// plan relied on. apply calls it once it holds the folder's lock: another
// apply may have changed the folder while this one waited.
func (p *Plan) CheckFolder(storeName string, ref catalog.Ref, archives []catalog.Archive) error {
	folder := ref.Kind + "/" + ref.Name
	for _, f := range p.Catalog {
		if f.Store != storeName || f.Folder != folder {
			continue
		}
		if d := p.folderChanges(f, archives); d != "" {
			return fmt.Errorf("%w: store.%s %s changed while this apply waited for its lock (%s); run planb plan again", ErrStale, storeName, folder, d)
		}
	}
	return nil
}

// folderChanges says how archives differ from what the plan saw in f, or
// returns "". A restore relies on its archive only: other archives may come
// and go.
func (p *Plan) folderChanges(f CatalogFolder, archives []catalog.Archive) string {
	have := make([]CatalogEntry, 0, len(archives))
	for _, a := range archives {
		have = append(have, CatalogEntry{Name: a.Name, Size: a.Size})
	}
	if p.Operation == "restore" {
		have = kept(have, f.Archives)
	}
	return diffEntries(f.Archives, have)
}

// kept returns the entries of have whose names are in want.
func kept(have, want []CatalogEntry) []CatalogEntry {
	names := map[string]bool{}
	for _, e := range want {
		names[e.Name] = true
	}
	var out []CatalogEntry
	for _, e := range have {
		if names[e.Name] {
			out = append(out, e)
		}
	}
	return out
}

func diffEntries(want, have []CatalogEntry) string {
	w := map[string]int64{}
	for _, e := range want {
		w[e.Name] = e.Size
	}
	h := map[string]int64{}
	for _, e := range have {
		h[e.Name] = e.Size
	}
	var changes []string
	for name, size := range w {
		hs, ok := h[name]
		switch {
		case !ok:
			changes = append(changes, name+" is gone")
		case hs != size:
			changes = append(changes, name+" changed size")
		}
	}
	for name := range h {
		if _, ok := w[name]; !ok {
			changes = append(changes, name+" is new")
		}
	}
	sort.Strings(changes)
	return strings.Join(changes, ", ")
}
