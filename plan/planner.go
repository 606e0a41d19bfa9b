package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/plan/retention"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// Catalog is what the stores hold: every archive of every store, by store
// name, as their listings returned it.
type Catalog map[string][]catalog.Archive

// Options steer planning.
type Options struct {
	// Now is the time schedules and retention are evaluated at.
	Now time.Time
	// Unreachable holds the stores that could not be listed because they
	// could not be reached, by name: why (store.UnreachableReason). The
	// catalog has nothing of them; their resources are StatusUnknown
	// there, and nothing is planned in them.
	Unreachable map[string]string
	// Targets limits the plan to these resource addresses. An address of a
	// for_each block without a key (application.all) targets every instance.
	Targets      []string
	PlanbVersion string
	// Damaged holds what is known of damaged archives: by store name, by
	// archive key (<kind>/<name>/<file>). The planner opens no archive; the
	// caller reads what earlier checks recorded.
	Damaged map[string]map[string]Damage
	// Drills holds, by resource address, the newest record of the
	// resource's restore drills in its stores; the caller reads them.
	Drills map[string]*DrillRecord
	// Nodes holds which planb node wrote each archive, as the stores
	// recorded it: by store name, by archive key (<kind>/<name>/<file>,
	// the complete name also for a partial). An archive the stores did
	// not record (older planb, adopted) counts as this node's. Archives
	// that nodes outside the resource's owners (config.Config.OwnersOf)
	// wrote are left alone, and reported (see Plan.Conflicts).
	Nodes map[string]map[string]string
	// Versions makes applications due when a new version was delivered.
	Versions VersionFacts
}

// Make compares the desired state with the catalog and returns the plan
// that makes them agree.
func Make(cfg *config.Config, cat Catalog, opts Options) (*Plan, error) {
	resources, err := targeted(cfg.Resources, opts.Targets)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		PlanbVersion:  opts.PlanbVersion,
		Operation:     "backup",
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		Now:           opts.Now.UTC(),
		ConfigDigest:  cfg.Digest,
		Targets:       opts.Targets,
		Node:          cfg.Node,
		Actions:       []*Action{},
	}
	resources = p.withoutUnreachable(resources, opts.Unreachable)
	folders := indexCatalog(cat)

	// The archive that backs up each resource, by address, so depends_on
	// can order backups after those of the resources they depend on.
	backupOf := map[string]string{}
	for _, r := range resources {
		planResource(p, cfg, r, folders, opts.Damaged, opts.Nodes, opts.Versions)
		for _, a := range p.Actions {
			if a.Resource == r.Address && a.Type == Backup {
				backupOf[r.Address] = a.ID
			}
		}
	}
	for _, r := range resources {
		id, ok := backupOf[r.Address]
		if !ok {
			continue
		}
		a := p.Action(id)
		for _, dep := range r.DependsOn {
			if depID, ok := backupOf[dep]; ok {
				a.DependsOn = append(a.DependsOn, depID)
			}
		}
	}
	planDrills(p, cfg, resources, folders, opts.Damaged, opts.Drills)
	noteDecryption(p, cfg)
	p.Orphans, p.Foreign = orphans(cfg, cat)
	return p, nil
}

// folderKey identifies a resource folder in a store.
type folderKey struct {
	store string
	ref   catalog.Ref
}

func indexCatalog(cat Catalog) map[folderKey][]catalog.Archive {
	m := map[folderKey][]catalog.Archive{}
	for name, archives := range cat {
		for _, a := range archives {
			k := folderKey{name, a.Ref}
			m[k] = append(m[k], a)
		}
	}
	for k := range m {
		sort.Slice(m[k], func(i, j int) bool { return m[k][i].Time.Before(m[k][j].Time) })
	}
	return m
}

// RefOf is the folder a resource's archives are kept in.
func RefOf(r *config.Resource) catalog.Ref {
	return catalog.Ref{Kind: r.Kind.Dir(), Name: r.Name}
}

// storeView is one resource in one store during planning.
type storeView struct {
	store    *config.Store
	complete []catalog.Archive // oldest first
	partial  []catalog.Archive
	safety   []catalog.Archive // safety backups: never newest, not counted by retention
	future   []catalog.Archive // dated after now + FutureSkew: likewise
	damaged  []Damage          // found damaged: likewise, and never copied
	// others are archives and partials that nodes outside the owners
	// wrote: never counted, copied, pruned or cleaned.
	others []NodeArchive
	newest *catalog.Archive
	due    bool
	reason string
	// incoming is the archive a backup or copy action will add, and the
	// action that adds it.
	incoming       string
	incomingAction string
	// partialsKept are the partials not cleaned, and why.
	partialsKept []PartialKept
}

// planResource plans one resource in its stores, in phases: each store's
// archives sorted into a view, new versions marked, partial leftovers
// cleaned, the due stores given a backup or a copy (after the cleans),
// and each store's state recorded with its prunes.
func planResource(p *Plan, cfg *config.Config, r *config.Resource, folders map[folderKey][]catalog.Archive, damaged map[string]map[string]Damage, nodes map[string]map[string]string, versions VersionFacts) {
	views := make([]*storeView, 0, len(r.Stores))
	for _, s := range r.Stores {
		views = append(views, viewOf(p, cfg, r, s, folders, damaged, nodes))
	}
	markNewVersions(r, views, versions)
	cleanOf := planCleans(p, r, views)
	planDeliveries(p, r, views)
	afterCleans(p, r, cleanOf)
	for _, v := range views {
		p.Resources = append(p.Resources, stateOf(p, r, v))
		if prune := pruneOf(r, v, p.Now); prune != nil {
			p.Actions = append(p.Actions, prune)
		}
	}
}

// viewOf sorts the archives of r in store s into complete, partial,
// damaged, safety, future and other nodes' ones, records the folder in the
// plan's catalog with the conflicts of nodes, and tells whether the store
// is due and why.
func viewOf(p *Plan, cfg *config.Config, r *config.Resource, s *config.Store, folders map[folderKey][]catalog.Archive, damaged map[string]map[string]Damage, nodes map[string]map[string]string) *storeView {
	ref := RefOf(r)
	v := &storeView{store: s}
	owners := cfg.OwnersOf(r, s)
	archives := folders[folderKey{s.Name, ref}]
	entries := make([]CatalogEntry, 0, len(archives))
	for _, a := range archives {
		entries = append(entries, CatalogEntry{Name: a.Name, Size: a.Size})
		if node := nodes[s.Name][ref.Key(strings.TrimSuffix(a.Name, catalog.PartialSuffix))]; node != "" && !slices.Contains(owners, node) {
			v.others = append(v.others, NodeArchive{Archive: a.Name, Node: node, Time: a.Time, Partial: a.Partial, Safety: a.Safety})
			continue
		}
		d, isDamaged := damaged[s.Name][a.Key()]
		switch {
		case a.Partial:
			v.partial = append(v.partial, a)
		case isDamaged:
			d.Archive = a.Name
			v.damaged = append(v.damaged, d)
		case a.Safety:
			v.safety = append(v.safety, a)
		case Future(a, p.Now):
			v.future = append(v.future, a)
		default:
			v.complete = append(v.complete, a)
		}
	}
	p.Catalog = append(p.Catalog, CatalogFolder{Store: s.Name, Folder: ref.Kind + "/" + ref.Name, Archives: entries})
	p.Conflicts = append(p.Conflicts, conflictOf(r, s, owners, v.others)...)
	if n := len(v.complete); n > 0 {
		v.newest = &v.complete[n-1]
	}
	v.due, v.reason = due(v.newest, r.Every, p.Now)
	for _, d := range v.damaged {
		_, t, _, ok := catalog.ParseArchiveName(d.Archive)
		switch {
		case !ok || Future(catalog.Archive{Time: t}, p.Now):
		case v.newest == nil:
			v.reason += fmt.Sprintf(" (%s is damaged)", d.Archive)
		case t.After(v.newest.Time):
			v.reason += fmt.Sprintf("; the newer %s is damaged", d.Archive)
		}
	}
	return v
}

// planCleans plans the deletion of the partial leftovers of each store
// first: a new archive may want the same name. Only those
// catalog.Cleanable allows are cleaned, never one a run that still holds
// the lock is writing; the others are reported. It returns the clean
// action of each store, by store name.
func planCleans(p *Plan, r *config.Resource, views []*storeView) map[string]string {
	cleanOf := map[string]string{}
	for _, v := range views {
		var deletions []Deletion
		for _, pa := range v.partial {
			ok, why := catalog.Cleanable(pa, p.CreatedAt)
			if !ok {
				v.partialsKept = append(v.partialsKept, PartialKept{Archive: pa.Name, Why: why})
				continue
			}
			deletions = append(deletions, Deletion{Archive: pa.Name, Time: pa.Time, Size: pa.Size, Why: "partial, " + why})
		}
		if len(deletions) == 0 {
			continue
		}
		a := &Action{
			ID:       actionID(Clean, r.Address, v.store.Name),
			Type:     Clean,
			Resource: r.Address,
			Store:    v.store.Name,
			Reason:   fmt.Sprintf("%d partial leftover(s) of interrupted runs", len(deletions)),
			Delete:   deletions,
		}
		p.Actions = append(p.Actions, a)
		cleanOf[v.store.Name] = a.ID
	}

	return cleanOf
}

// planDeliveries gives each due store a copy of a fresh archive another
// store holds; only when no store has one is the resource dumped, once,
// into the first due store, and copied from there into the others.
func planDeliveries(p *Plan, r *config.Resource, views []*storeView) {
	var fresh *storeView
	for _, v := range views {
		if !v.due && (fresh == nil || v.newest.Time.After(fresh.newest.Time)) {
			fresh = v
		}
	}
	var backupID, backupStore, backupArchive string
	for _, v := range views {
		if !v.due {
			continue
		}
		switch {
		case fresh != nil:
			a := &Action{
				ID:        actionID(Copy, r.Address, v.store.Name),
				Type:      Copy,
				Resource:  r.Address,
				Store:     v.store.Name,
				Archive:   fresh.newest.Name,
				FromStore: fresh.store.Name,
				Reason:    fmt.Sprintf("%s; store.%s holds %s", v.reason, fresh.store.Name, fresh.newest.Name),
			}
			p.Actions = append(p.Actions, a)
			v.incoming, v.incomingAction = a.Archive, a.ID
		case backupID == "":
			backupID = actionID(Backup, r.Address, v.store.Name)
			backupStore = v.store.Name
			backupArchive = catalog.ArchiveName(r.Name, p.Now)
			p.Actions = append(p.Actions, &Action{
				ID:       backupID,
				Type:     Backup,
				Resource: r.Address,
				Store:    v.store.Name,
				Archive:  backupArchive,
				Reason:   v.reason,
			})
			v.incoming, v.incomingAction = backupArchive, backupID
		default:
			a := &Action{
				ID:        actionID(Copy, r.Address, v.store.Name),
				Type:      Copy,
				Resource:  r.Address,
				Store:     v.store.Name,
				Archive:   backupArchive,
				FromStore: backupStore,
				Reason:    fmt.Sprintf("%s; copy of the new backup in store.%s", v.reason, backupStore),
				DependsOn: []string{backupID},
			}
			p.Actions = append(p.Actions, a)
			v.incoming, v.incomingAction = a.Archive, a.ID
		}
	}
}

// afterCleans makes the backups and copies of r into a store wait for the
// clean of its partial leftovers.
func afterCleans(p *Plan, r *config.Resource, cleanOf map[string]string) {
	for _, a := range p.Actions {
		if a.Resource == r.Address && (a.Type == Backup || a.Type == Copy) {
			if id, ok := cleanOf[a.Store]; ok {
				a.DependsOn = append(a.DependsOn, id)
			}
		}
	}
}

// stateOf is what the plan shows of r in one store: up to date, due or
// taking a copy, with its archives counted.
func stateOf(p *Plan, r *config.Resource, v *storeView) ResourceState {
	st := ResourceState{
		Resource: r.Address,
		Store:    v.store.Name,
		Status:   StatusUpToDate,
		Backups:  len(v.complete),
		Partials: len(v.partial),
		Safety:   len(v.safety),
	}
	for _, f := range v.future {
		st.Future = append(st.Future, f.Name)
	}
	st.PartialsKept = v.partialsKept
	st.Damaged = v.damaged
	st.OtherNodes = v.others
	if v.newest != nil {
		st.Newest, st.NewestAt = v.newest.Name, v.newest.Time
	}
	if v.due {
		st.Status = StatusDue
		if v.incomingAction != "" && p.Action(v.incomingAction).Type == Copy {
			st.Status = StatusCopy
		}
	}
	return st
}

// pruneOf is the prune of one store: the archives retention no longer
// keeps and the safety backups that outlived their lifetime; nil when
// none.
func pruneOf(r *config.Resource, v *storeView, now time.Time) *Action {
	var prune *Action
	if r.Retention != nil {
		prune = pruneAction(r, v, now)
	}
	if s := safetyPrune(r, v, now); s != nil {
		if prune == nil {
			prune = s
		} else {
			prune.Delete = append(prune.Delete, s.Delete...)
			prune.Reason += "; " + s.Reason
		}
	}
	return prune
}

// FutureSkew is how far after now an archive may be dated before it counts
// as dated in the future: a copied file, or made on a host whose clock was
// wrong. Such an archive is never the newest, and retention neither counts
// nor prunes it.
const FutureSkew = 5 * time.Minute

// Future reports whether a is dated more than FutureSkew after now.
func Future(a catalog.Archive, now time.Time) bool {
	return a.Time.After(now.Add(FutureSkew))
}

// safetyPrune removes the safety backups of one store that outlived their
// lifetime.
func safetyPrune(r *config.Resource, v *storeView, now time.Time) *Action {
	lifetime := config.DefaultSafetyLifetime
	if r.Retention != nil && r.Retention.SafetyBackups > 0 {
		lifetime = r.Retention.SafetyBackups
	}
	a := &Action{
		ID:       actionID(Prune, r.Address, v.store.Name),
		Type:     Prune,
		Resource: r.Address,
		Store:    v.store.Name,
	}
	for _, s := range v.safety {
		if age := now.Sub(s.Time); age > lifetime {
			a.Delete = append(a.Delete, Deletion{Archive: s.Name, Time: s.Time, Size: s.Size,
				Why: fmt.Sprintf("safety backup older than %s", FormatDuration(lifetime))})
		}
	}
	if len(a.Delete) == 0 {
		return nil
	}
	a.Reason = fmt.Sprintf("%d safety backup(s) past their lifetime (%s)", len(a.Delete), FormatDuration(lifetime))
	return a
}

// due reports whether a resource whose newest complete backup is newest
// needs a new one, and why.
func due(newest *catalog.Archive, every time.Duration, now time.Time) (bool, string) {
	if newest == nil {
		return true, "no backup yet"
	}
	age := now.Sub(newest.Time)
	return age >= every, fmt.Sprintf("newest is %s old, every %s", FormatDuration(age), FormatDuration(every))
}

// pruneAction applies the resource's retention to one store's archives,
// counting the archive a backup or copy is about to add; the prune then
// depends on that action, so nothing is removed unless the new archive is
// complete and verified.
func pruneAction(r *config.Resource, v *storeView, now time.Time) *Action {
	times := make([]time.Time, 0, len(v.complete)+1)
	byTime := map[time.Time][]catalog.Archive{}
	for _, a := range v.complete {
		if _, seen := byTime[a.Time]; !seen {
			times = append(times, a.Time)
		}
		byTime[a.Time] = append(byTime[a.Time], a)
	}
	incomingTime := now
	if v.incoming != "" {
		if _, t, _, ok := catalog.ParseArchiveName(v.incoming); ok {
			incomingTime = t
		}
		if _, seen := byTime[incomingTime]; !seen {
			times = append(times, incomingTime)
		}
	}
	if len(times) == 0 {
		return nil
	}
	decisions := retention.Apply(r.Retention.Policy, times, now)
	a := &Action{
		ID:       actionID(Prune, r.Address, v.store.Name),
		Type:     Prune,
		Resource: r.Address,
		Store:    v.store.Name,
	}
	for _, d := range decisions {
		archives := byTime[d.Time]
		if d.Keep {
			names := make([]string, 0, len(archives))
			for _, ar := range archives {
				names = append(names, ar.Name)
			}
			if len(names) == 0 && v.incoming != "" && d.Time.Equal(incomingTime) {
				names = []string{v.incoming + " (new)"}
			}
			for _, n := range names {
				a.Keep = append(a.Keep, Kept{Archive: n, Time: d.Time, Reasons: d.Reasons})
			}
			continue
		}
		for _, ar := range archives {
			a.Delete = append(a.Delete, Deletion{Archive: ar.Name, Time: ar.Time, Size: ar.Size, Why: d.Why})
		}
	}
	if len(a.Delete) == 0 {
		return nil
	}
	rule := "retention"
	if r.Retention.Name != "" {
		rule = "retention." + r.Retention.Name
	}
	a.Reason = fmt.Sprintf("%d archive(s) no longer kept by %s", len(a.Delete), rule)
	if v.incomingAction != "" {
		a.DependsOn = []string{v.incomingAction}
	}
	return a
}

func actionID(t ActionType, resource, storeName string) string {
	return string(t) + " " + resource + " store." + storeName
}

// targeted returns the resources the targets name; all of them without
// targets. A target that names nothing is an error.
func targeted(all []*config.Resource, targets []string) ([]*config.Resource, error) {
	if len(targets) == 0 {
		return all, nil
	}
	var out []*config.Resource
	seen := map[string]bool{}
	for _, t := range targets {
		matched := false
		for _, r := range all {
			if r.Address == t || strings.HasPrefix(r.Address, t+"[") {
				matched = true
				if !seen[r.Address] {
					seen[r.Address] = true
					out = append(out, r)
				}
			}
		}
		if !matched {
			return nil, fmt.Errorf("--target %s: no such resource in the configuration", t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// orphans lists archives in configured stores whose folder belongs to no
// configured resource. In shared stores such archives belong to other
// configurations: they are only counted.
func orphans(cfg *config.Config, cat Catalog) ([]ArchiveRef, map[string]int) {
	known := map[catalog.Ref]bool{}
	for _, r := range cfg.Resources {
		known[RefOf(r)] = true
	}
	var out []ArchiveRef
	var foreign map[string]int
	for name, archives := range cat {
		shared := cfg.Stores[name] != nil && cfg.Stores[name].Shared
		for _, a := range archives {
			if known[a.Ref] {
				continue
			}
			if shared {
				if foreign == nil {
					foreign = map[string]int{}
				}
				foreign[name]++
				continue
			}
			out = append(out, ArchiveRef{Store: name, Folder: a.Ref.Kind + "/" + a.Ref.Name, Archive: a.Name, Time: a.Time, Size: a.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Store != out[j].Store {
			return out[i].Store < out[j].Store
		}
		if out[i].Folder != out[j].Folder {
			return out[i].Folder < out[j].Folder
		}
		return out[i].Time.Before(out[j].Time)
	})
	return out, foreign
}

// FormatDuration prints d the way configurations write it: "26h", "7d",
// "1d12h", "45m".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	var days time.Duration
	if d >= 48*time.Hour {
		days = d / (24 * time.Hour)
		d -= days * 24 * time.Hour
	}
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	var sb strings.Builder
	if days > 0 {
		fmt.Fprintf(&sb, "%dd", days)
	}
	if h > 0 {
		fmt.Fprintf(&sb, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&sb, "%dm", m)
	}
	return sb.String()
}
