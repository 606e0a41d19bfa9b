package facts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// ArchiveRow is one archive of a store as `planb list` and `planb verify`
// see it.
type ArchiveRow struct {
	Resource string    `json:"resource,omitempty"` // "" when orphaned
	Store    string    `json:"store"`
	Folder   string    `json:"folder"`
	Archive  string    `json:"archive"`
	Time     time.Time `json:"time"`
	Size     int64     `json:"size"`
	// Status is one of plan's Archive statuses (plan.ArchiveComplete …).
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Safety marks a safety backup: the state a restore replaced.
	Safety bool `json:"safety,omitempty"`
	// Future marks an archive dated more than a few minutes after now.
	Future bool `json:"future,omitempty"`
	// Node is the planb node that made the archive, as its manifest says
	// ("" for archives of older versions and adopted ones).
	Node string `json:"node,omitempty"`
	// Encrypted marks an archive stored encrypted (Archive + ".age" in an
	// encrypted store); Size is then the encrypted size.
	Encrypted bool `json:"encrypted,omitempty"`

	// Ref is the archive's folder, Handle its opened store.
	Ref    catalog.Ref `json:"-"`
	Handle store.Store `json:"-"`
	// Res is the archive's resource; nil when orphaned or foreign.
	Res *config.Resource `json:"-"`
}

// ListError is the error of a store whose listing failed: a store or
// network problem, not one of the configuration.
type ListError struct{ Err error }

func (e *ListError) Error() string { return e.Err.Error() }
func (e *ListError) Unwrap() error { return e.Err }

// UnlistedError is the outcome of a listing that could not reach some
// stores: their archives are not listed.
type UnlistedError struct {
	// Unreachable holds why, by store name.
	Unreachable map[string]string
}

func (e *UnlistedError) Error() string {
	var msgs []string
	for _, name := range UnreachableNames(e.Unreachable) {
		msgs = append(msgs, fmt.Sprintf("store.%s could not be reached (%s): its archives are not listed", name, e.Unreachable[name]))
	}
	return strings.Join(msgs, "; ")
}

// Unlisted returns an *UnlistedError naming the unreachable stores; nil
// when every store was listed.
func Unlisted(unreachable map[string]string) error {
	if len(unreachable) == 0 {
		return nil
	}
	return &UnlistedError{Unreachable: unreachable}
}

// Archives lists the archives of every store of the estate whose resource
// address, folder or name matches filter ("" = all), classified by
// plan.ListStatus and sorted by folder, store and time. With manifests,
// complete archives are opened to tell planb's from adopted and damaged
// ones. now dates the archives in the future. The stores that could not be
// reached are returned in unreachable, by name, with why; a store whose
// listing fails otherwise is a *ListError.
func (e *Estate) Archives(ctx context.Context, filter string, manifests bool, now time.Time) (rows []ArchiveRow, unreachable map[string]string, err error) {
	byRef := map[catalog.Ref]*config.Resource{}
	for _, r := range e.Config.Resources {
		byRef[plan.RefOf(r)] = r
	}
	for _, name := range slices.Sorted(maps.Keys(e.Stores)) {
		st := e.Stores[name]
		archives, why, err := list(ctx, st)
		if err != nil {
			return nil, nil, &ListError{err}
		}
		if why != "" {
			unreachable = addUnreachable(unreachable, name, why)
			continue
		}
		shared := e.Config.Stores[name] != nil && e.Config.Stores[name].Shared
		for _, a := range archives {
			row := ArchiveRow{
				Store: name, Folder: a.Ref.Kind + "/" + a.Ref.Name, Archive: a.Name,
				Time: a.Time, Size: a.Size, Ref: a.Ref, Handle: st,
				Safety: a.Safety, Future: !a.Partial && plan.Future(a, now), Encrypted: a.Encrypted,
			}
			if r := byRef[a.Ref]; r != nil {
				row.Resource, row.Res = r.Address, r
			}
			if !plan.MatchesArchive(filter, row.Resource, row.Folder, row.Archive) {
				continue
			}
			row.Status = plan.ListStatus(a.Partial, row.Res != nil, shared)
			rows = append(rows, row)
		}
	}
	if manifests {
		readManifests(ctx, rows)
	}
	if filter != "" && len(rows) == 0 {
		if len(unreachable) > 0 {
			return nil, nil, &ListError{fmt.Errorf("no archive matches %q in the stores that could be reached: %w", filter, Unlisted(unreachable))}
		}
		return nil, nil, fmt.Errorf("no archive matches %q", filter)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Folder != rows[j].Folder {
			return rows[i].Folder < rows[j].Folder
		}
		if rows[i].Store != rows[j].Store {
			return rows[i].Store < rows[j].Store
		}
		return rows[i].Time.Before(rows[j].Time)
	})
	return rows, unreachable, nil
}

// readManifests opens every complete archive of rows to tell planb's
// archives from adopted and damaged ones, several at a time.
func readManifests(ctx context.Context, rows []ArchiveRow) {
	sem := make(chan struct{}, storeReaders)
	var wg sync.WaitGroup
	for i := range rows {
		if rows[i].Status != plan.ArchiveComplete {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *ArchiveRow) {
			defer wg.Done()
			defer func() { <-sem }()
			a := catalog.Archive{Ref: r.Ref, Name: r.Archive}
			r.Status, r.Detail, r.Node = manifestStatus(ctx, r.Handle, a)
		}(&rows[i])
	}
	wg.Wait()
}

// manifestStatus opens an archive and tells, from its manifest, whether
// planb made it (and on which node), it was adopted, or it is damaged.
func manifestStatus(ctx context.Context, st store.Store, a catalog.Archive) (status, detail, node string) {
	obj, err := st.Open(ctx, a.Ref, a.Name)
	if IsKeyError(err) {
		return plan.ArchiveComplete, noKeyDetail(st, err), ""
	}
	if err != nil {
		return plan.ArchiveDamaged, err.Error(), ""
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return plan.ArchiveDamaged, err.Error(), ""
	}
	m, err := rd.Manifest()
	if err != nil {
		if errors.Is(err, archive.ErrNoManifest) {
			return plan.ArchiveAdopted, "", ""
		}
		return plan.ArchiveDamaged, err.Error(), ""
	}
	return plan.ArchiveComplete, "", m.Node
}

// noKeyDetail is what `planb list` says of an encrypted archive it cannot
// open (err says why): its manifest (node, adopted or not) is not known
// here.
func noKeyDetail(st store.Store, err error) string {
	if e, ok := st.(*store.Encrypted); ok && e.Keys().IdentityFile() == "" {
		return "contents not read: store." + st.Name() + " has no encryption.identity_file here"
	}
	return "contents not read: " + err.Error()
}
