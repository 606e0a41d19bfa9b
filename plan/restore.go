package plan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// RestorePlan describes what a restore replaces, with what, and what it runs
// afterwards.
type RestorePlan struct {
	Resource string    `json:"resource"`
	Store    string    `json:"store"`
	Archive  string    `json:"archive"`
	Time     time.Time `json:"time"`
	Size     int64     `json:"size"`
	// Adopted is set for archives of the original system, without manifest.
	Adopted bool `json:"adopted,omitempty"`
	// ArchiveDigest identifies the archive's contents (the SHA-256 of its
	// manifest, or of its entry list when it has none); apply refuses the
	// plan when it changed.
	ArchiveDigest string `json:"archive_digest"`
	// Database is the database schemas are restored into.
	Database string `json:"database"`
	// ToDatabase is set when restoring a copy into another database.
	ToDatabase   string          `json:"to_database,omitempty"`
	Schemas      []SchemaRestore `json:"schemas,omitempty"`
	Delivery     *TreeRestore    `json:"delivery,omitempty"`
	Files        *TreeRestore    `json:"files,omitempty"`
	Options      *OptionsRestore `json:"options,omitempty"`
	SafetyBackup string          `json:"safety_backup,omitempty"` // archive name, "" when none
	NoSafety     string          `json:"no_safety_backup_reason,omitempty"`
	Hooks        []string        `json:"after_restore,omitempty"`
	// OptionsSkipped says why the archive's options are not written.
	OptionsSkipped string `json:"options_skipped,omitempty"`
	// Leftovers are what interrupted restores left behind: schemas moved
	// aside, folders being extracted or moved aside. Those of the schemas
	// and folders this restore replaces are removed once it succeeded.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// Interrupted is the record of an earlier restore of the resource that
	// began and did not finish; this restore finishes it.
	Interrupted *RestoreRecord `json:"interrupted,omitempty"`
	// Dependents are the objects outside the restored schemas that
	// replacing them drops or alters; a plan lists them only with Cascade,
	// and apply drops those and no others.
	Dependents []Dependent `json:"dependents,omitempty"`
	Cascade    bool        `json:"cascade,omitempty"`
	// Context are the archive's other schemas, restored beside schemas
	// restored under another name in the scratch database that renames
	// them, so that their references resolve.
	Context []SchemaRestore `json:"context,omitempty"`
}

// Leftover is something an interrupted restore left behind.
type Leftover struct {
	Kind string `json:"kind"` // "schema" or "folder"
	Name string `json:"name"` // the schema's name or the folder's path
	// Of is the schema or folder whose earlier contents (or extracted
	// replacement) it holds, when known.
	Of   string `json:"of,omitempty"`
	What string `json:"what"`
	// Remove says that this restore removes it once it succeeded.
	Remove bool `json:"remove"`
}

// RestoreRecord is what a restore writes into its store before it changes
// anything, and removes once it finished: while it exists, the restore of
// the resource has begun and not finished, and the next restore plan
// finishes it from the same archive.
type RestoreRecord struct {
	Resource string    `json:"resource"`
	Store    string    `json:"store"` // the store holding the archive
	Archive  string    `json:"archive"`
	Started  time.Time `json:"started"`
	Host     string    `json:"host,omitempty"`
	PID      int       `json:"pid,omitempty"`
	// SafetyBackup is the safety backup taken before the first of the
	// interrupted restores, "" when none was.
	SafetyBackup string `json:"safety_backup,omitempty"`
	SafetyStore  string `json:"safety_store,omitempty"`
}

// Dependent is an object outside the restored schemas that depends on one
// of them: a view over one of their tables, a column of one of their types,
// a foreign key to one of their tables.
type Dependent struct {
	Schema string `json:"schema,omitempty"`
	Object string `json:"object"`
}

// SchemaRestore is one schema that is dropped and restored.
type SchemaRestore struct {
	Role   string `json:"role"`
	Entry  string `json:"entry"`  // archive entry
	Source string `json:"source"` // schema name in the dump
	Target string `json:"target"` // schema name it is restored as
	// Now is what exists now; Archive what the archive holds.
	Now     SchemaState `json:"now"`
	Archive SchemaState `json:"archive"`
}

// SchemaState is a schema's size at one point.
type SchemaState struct {
	Exists      bool  `json:"exists"`
	Tables      int   `json:"tables"`
	RowEstimate int64 `json:"row_estimate"`
	// Unanalyzed counts tables without a row estimate (never analyzed).
	Unanalyzed int   `json:"unanalyzed,omitempty"`
	Bytes      int64 `json:"bytes"`
}

// TreeRestore is a folder that is replaced.
type TreeRestore struct {
	Target  string    `json:"target"`
	Prefix  string    `json:"prefix"` // archive entry prefix
	Now     TreeState `json:"now"`
	Archive TreeState `json:"archive"`
}

// TreeState is a folder's size at one point.
type TreeState struct {
	Exists bool  `json:"exists"`
	Files  int   `json:"files"`
	Bytes  int64 `json:"bytes"`
}

// OptionsRestore is the options file that is written.
type OptionsRestore struct {
	Entry  string `json:"entry"`
	Target string `json:"target"`
}

// RestoreRequest is what `plan --restore` asks for.
type RestoreRequest struct {
	Resource string
	// From names the archive: its name with or without .zip, or its time
	// (RFC 3339, or the YYYY-MM-DD-HH-mm-SS of its name). "" = the newest
	// complete archive.
	From string
	// Store limits the search to one store.
	Store string
	// Roles limits the restore to these schema roles (none = all). A role
	// may name the schema to restore it as: "dashboard=copy_central".
	Roles          []string
	ToDatabase     string
	NoSafetyBackup bool
	// Cascade accepts dropping the objects outside the restored schemas
	// that depend on them; the plan lists each.
	Cascade bool
}

// ChooseArchive finds the archive a restore request names in the catalog.
func ChooseArchive(cfg *config.Config, cat Catalog, req RestoreRequest, now time.Time) (*config.Resource, catalog.Archive, error) {
	r := cfg.Resource(req.Resource)
	if r == nil {
		return nil, catalog.Archive{}, fmt.Errorf("--restore %s: no such resource in the configuration", req.Resource)
	}
	ref := RefOf(r)
	var candidates []catalog.Archive
	for _, s := range r.Stores {
		if req.Store != "" && s.Name != req.Store {
			continue
		}
		for _, a := range cat[s.Name] {
			if a.Ref == ref && !a.Partial {
				candidates = append(candidates, a)
			}
		}
	}
	if req.Store != "" && !usesStore(r, req.Store) {
		return nil, catalog.Archive{}, fmt.Errorf("--store %s: %s is not kept in that store", req.Store, r.Address)
	}
	if len(candidates) == 0 {
		return nil, catalog.Archive{}, fmt.Errorf("no complete archive of %s in %s", r.Address, storesText(r, req.Store))
	}
	sort.SliceStable(candidates, func(i, j int) bool { return candidates[i].Time.After(candidates[j].Time) })
	if req.From == "" {
		// The newest backup: never a safety backup (the state a restore
		// replaced) nor an archive dated in the future.
		for _, a := range candidates {
			if !a.Safety && !Future(a, now) {
				return r, a, nil
			}
		}
		return nil, catalog.Archive{}, fmt.Errorf("no complete archive of %s in %s but safety backups or archives dated in the future; name one with --from", r.Address, storesText(r, req.Store))
	}
	want := strings.TrimSuffix(req.From, ".zip")
	wantTime, timeErr := time.Parse(time.RFC3339, req.From)
	if timeErr != nil {
		wantTime, timeErr = time.Parse("2006-01-02-15-04-05", req.From)
	}
	for _, a := range candidates {
		if strings.TrimSuffix(strings.TrimSuffix(a.Name, catalog.SafetySuffix), ".zip") == want || strings.TrimSuffix(a.Name, ".zip") == want || (timeErr == nil && a.Time.Equal(wantTime)) {
			return r, a, nil
		}
	}
	return nil, catalog.Archive{}, fmt.Errorf("--from %s: no complete archive of %s with that name or time in %s", req.From, r.Address, storesText(r, req.Store))
}

func usesStore(r *config.Resource, name string) bool {
	for _, s := range r.Stores {
		if s.Name == name {
			return true
		}
	}
	return false
}

func storesText(r *config.Resource, only string) string {
	if only != "" {
		return "store." + only
	}
	names := make([]string, 0, len(r.Stores))
	for _, s := range r.Stores {
		names = append(names, "store."+s.Name)
	}
	return strings.Join(names, ", ")
}

// ArchiveContents is what a restore needs to know of the chosen archive.
type ArchiveContents struct {
	Manifest *archive.Manifest // nil for adopted archives
	Entries  []string          // every entry name
	Digest   string
}

// LiveState is what exists now where the restore writes, gathered by the
// caller (plan opens no connection).
type LiveState struct {
	Schemas  map[string]SchemaState // by target schema name
	Delivery TreeState
	Files    TreeState
	// Leftovers are what interrupted restores left behind.
	Leftovers []Leftover
	// Interrupted is the record of a restore that began and did not
	// finish, found in one of the resource's stores.
	Interrupted *RestoreRecord
	// Dependents are the objects outside the restored schemas that depend
	// on them.
	Dependents []Dependent
}

// MakeRestore builds the restore plan for a chosen archive.
//
// cat is the catalog the archive was chosen from: the safety backup gets a
// name no archive of the resource has there, complete or partial.
func MakeRestore(cfg *config.Config, cat Catalog, r *config.Resource, a catalog.Archive, contents ArchiveContents, live LiveState, req RestoreRequest, opts Options) (*Plan, error) {
	rp := &RestorePlan{
		Resource:      r.Address,
		Store:         a.Store,
		Archive:       a.Name,
		Time:          a.Time,
		Size:          a.Size,
		Adopted:       contents.Manifest == nil,
		ArchiveDigest: contents.Digest,
		ToDatabase:    req.ToDatabase,
		Interrupted:   live.Interrupted,
	}
	if r.Database != nil {
		rp.Database = r.Database.DBName
		if req.ToDatabase != "" {
			rp.Database = req.ToDatabase
		}
	}
	schemas, err := RestoreSchemas(r, contents, req.Roles)
	if err != nil {
		return nil, err
	}
	for _, s := range schemas {
		s.Now = live.Schemas[s.Target]
		rp.Schemas = append(rp.Schemas, s)
	}
	if len(live.Dependents) > 0 {
		if !req.Cascade {
			return nil, &DependentsError{Resource: r.Address, Schemas: existingSchemas(rp), Dependents: live.Dependents}
		}
		rp.Cascade, rp.Dependents = true, live.Dependents
	}
	if slices.ContainsFunc(rp.Schemas, func(s SchemaRestore) bool { return s.Role != "database" && s.Target != s.Source }) {
		all, err := RestoreSchemas(r, contents, nil)
		if err != nil {
			return nil, err
		}
		for _, s := range all {
			if s.Role != "database" && !slices.ContainsFunc(rp.Schemas, func(x SchemaRestore) bool { return x.Source == s.Source }) {
				rp.Context = append(rp.Context, s)
			}
		}
	}
	roleFilter := len(req.Roles) > 0
	if r.DeliveryFolder != "" && !roleFilter && (hasPrefix(contents.Entries, "delivery/") || inPacks(contents, "delivery/")) {
		rp.Delivery = &TreeRestore{Target: r.DeliveryFolder, Prefix: "delivery/", Now: live.Delivery, Archive: treeOf(contents, "delivery/")}
	}
	if r.Path != "" && !roleFilter && hasPrefix(contents.Entries, "files/") {
		rp.Files = &TreeRestore{Target: r.Path, Prefix: "files/", Now: live.Files, Archive: treeOf(contents, "files/")}
	}
	if !roleFilter && slices.Contains(contents.Entries, "options.xml") {
		if r.Options != nil && r.Options.File != "" {
			rp.Options = &OptionsRestore{Entry: "options.xml", Target: r.Options.File}
		} else {
			rp.OptionsSkipped = "the archive's options.xml is not written: the configuration sets no options { file = … }"
		}
	}
	// What interrupted restores left of the schemas and folders this one
	// replaces goes once it succeeded.
	for _, l := range live.Leftovers {
		switch l.Kind {
		case "schema":
			l.Remove = slices.ContainsFunc(rp.Schemas, func(s SchemaRestore) bool { return s.Role != "database" && s.Target == l.Of })
		case "folder":
			l.Remove = (rp.Delivery != nil && rp.Delivery.Target == l.Of) || (rp.Files != nil && rp.Files.Target == l.Of)
		}
		rp.Leftovers = append(rp.Leftovers, l)
	}
	if req.ToDatabase == "" {
		for _, h := range r.AfterRestore {
			rp.Hooks = append(rp.Hooks, HookText(h))
		}
	}
	if len(rp.Schemas) == 0 && rp.Delivery == nil && rp.Files == nil && rp.Options == nil {
		return nil, fmt.Errorf("%s holds nothing to restore for %s", a.Name, r.Address)
	}

	p := &Plan{
		FormatVersion: FormatVersion,
		PlanbVersion:  opts.PlanbVersion,
		Operation:     "restore",
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		Now:           opts.Now.UTC(),
		ConfigDigest:  cfg.Digest,
		Targets:       []string{r.Address},
		Actions:       []*Action{},
		Restore:       rp,
	}
	ref := RefOf(r)
	p.Catalog = append(p.Catalog, CatalogFolder{Store: a.Store, Folder: ref.Kind + "/" + ref.Name,
		Archives: []CatalogEntry{{Name: a.Name, Size: a.Size}}})

	restoreID := "restore " + r.Address + " from store." + a.Store
	restore := &Action{
		ID:        restoreID,
		Type:      Restore,
		Resource:  r.Address,
		Store:     a.Store,
		FromStore: a.Store,
		Archive:   a.Name,
		Reason:    restoreReason(req, a),
	}
	if in := rp.Interrupted; in != nil && in.Archive == a.Name {
		restore.Reason = fmt.Sprintf("finishing the restore from this archive that began at %s (host %s, pid %d) and did not finish",
			in.Started.Format(time.RFC3339), in.Host, in.PID)
	}
	switch {
	case rp.Interrupted != nil && rp.Interrupted.Archive == a.Name:
		rp.NoSafety = "finishing an interrupted restore: what exists now is half restored"
		if rp.Interrupted.SafetyBackup != "" {
			rp.NoSafety += fmt.Sprintf("; safety backup %s in store.%s holds the state before it", rp.Interrupted.SafetyBackup, rp.Interrupted.SafetyStore)
		}
	case req.NoSafetyBackup:
		rp.NoSafety = "--no-safety-backup"
	case req.ToDatabase != "":
		rp.NoSafety = "restoring a copy into another database; the original is not touched"
	case renamed(rp):
		rp.NoSafety = "restoring copies under other schema names; the originals are not touched"
	case !anythingLive(rp):
		rp.NoSafety = "nothing exists yet that could be lost"
	case len(r.Stores) == 0:
		rp.NoSafety = "the resource has no store"
	default:
		safetyStore := r.Stores[0].Name
		taken := map[string]bool{}
		for _, x := range cat[safetyStore] {
			if x.Ref == ref {
				taken[strings.TrimSuffix(x.Name, catalog.PartialSuffix)] = true
			}
		}
		t := p.Now
		name := catalog.SafetyArchiveName(r.Name, t)
		for taken[name] || name == a.Name {
			t = t.Add(time.Second)
			name = catalog.SafetyArchiveName(r.Name, t)
		}
		rp.SafetyBackup = name
		safety := &Action{
			ID:       "safety backup " + r.Address + " store." + safetyStore,
			Type:     Backup,
			Resource: r.Address,
			Store:    safetyStore,
			Archive:  name,
			Reason:   "safety backup of the current state before the restore",
			Schemas:  existingSchemas(rp),
		}
		restore.DependsOn = []string{safety.ID}
		p.Actions = append(p.Actions, safety)
	}
	p.Actions = append(p.Actions, restore)
	return p, nil
}

// DependentsError refuses a restore that would drop or alter objects
// outside the schemas it replaces.
type DependentsError struct {
	Resource   string
	Schemas    []string
	Dependents []Dependent
}

func (e *DependentsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "restoring %s would drop or alter %d object(s) outside the schemas it replaces (%s):",
		e.Resource, len(e.Dependents), strings.Join(e.Schemas, ", "))
	for _, d := range e.Dependents {
		fmt.Fprintf(&b, "\n  - %s", d.Object)
	}
	b.WriteString("\nRestore the schemas they belong to together (without --schema, or with a --schema for each), " +
		"drop or recreate them yourself, or plan again with --cascade: the plan then lists each object it drops, and apply drops no other.")
	return b.String()
}

// RestoreSchemas lists the schemas an archive restores for a resource,
// limited to roles when given.
func RestoreSchemas(r *config.Resource, contents ArchiveContents, roles []string) ([]SchemaRestore, error) {
	var out []SchemaRestore
	want := map[string]bool{}
	target := map[string]string{}
	for _, spec := range roles {
		role, to, _ := strings.Cut(spec, "=")
		want[role] = true
		if to != "" {
			target[role] = to
		}
	}
	found := map[string]bool{}
	for _, s := range r.Schemas {
		if len(roles) > 0 && !want[s.Role] {
			continue
		}
		found[s.Role] = true
		entry := "schemas/" + s.Name + ".cssbackup"
		sr := SchemaRestore{Role: s.Role, Entry: entry, Source: s.Name, Target: s.Name}
		if to, ok := target[s.Role]; ok {
			sr.Target = to
		}
		if contents.Manifest != nil {
			if info, ok := manifestSchema(contents.Manifest, s.Role, s.Name); ok {
				sr.Entry, sr.Source = info.Entry, info.Name
				sr.Archive = SchemaState{Exists: true, Tables: info.Tables, RowEstimate: info.RowEstimate, Unanalyzed: info.Unanalyzed, Bytes: info.Bytes}
			}
		}
		if !slices.Contains(contents.Entries, sr.Entry) {
			return nil, fmt.Errorf("the archive holds no %s for the %s schema %s", sr.Entry, s.Role, s.Name)
		}
		sr.Archive.Exists = true
		out = append(out, sr)
	}
	if r.Kind == config.Persistence && r.Database != nil && len(roles) == 0 {
		entry := "databases/" + r.Database.DBName + ".cssbackup"
		if slices.Contains(contents.Entries, entry) {
			out = append(out, SchemaRestore{Role: "database", Entry: entry, Archive: SchemaState{Exists: true}})
		}
	}
	for role := range want {
		if !found[role] {
			return nil, fmt.Errorf("--schema %s: %s has no schema with that role", role, r.Address)
		}
	}
	return out, nil
}

// manifestSchema finds a schema of the manifest by role (the schema may have
// had another name when the backup was made) or by name.
func manifestSchema(m *archive.Manifest, role, name string) (archive.SchemaInfo, bool) {
	for _, s := range m.Schemas {
		if s.Name == name {
			return s, true
		}
	}
	for _, s := range m.Schemas {
		if role != "" && s.Role == role {
			return s, true
		}
	}
	return archive.SchemaInfo{}, false
}

func restoreReason(req RestoreRequest, a catalog.Archive) string {
	if req.From == "" {
		return "the newest complete archive (safety backups and archives dated in the future are never chosen by default)"
	}
	return "the archive asked for with --from " + req.From
}

// renamed reports whether a restore writes every schema under another name
// than the configured one.
func renamed(rp *RestorePlan) bool {
	for _, s := range rp.Schemas {
		if s.Role == "database" || s.Target == s.Source {
			return false
		}
	}
	return len(rp.Schemas) > 0 && rp.Delivery == nil && rp.Files == nil && rp.Options == nil
}

func anythingLive(rp *RestorePlan) bool {
	for _, s := range rp.Schemas {
		if s.Now.Exists {
			return true
		}
	}
	return (rp.Delivery != nil && rp.Delivery.Now.Exists) || (rp.Files != nil && rp.Files.Now.Exists)
}

func existingSchemas(rp *RestorePlan) []string {
	out := []string{}
	for _, s := range rp.Schemas {
		if s.Now.Exists && s.Role != "database" {
			out = append(out, s.Target)
		}
	}
	return out
}

func treeOf(c ArchiveContents, prefix string) TreeState {
	if c.Manifest != nil {
		for _, t := range []*archive.TreeInfo{c.Manifest.Delivery, c.Manifest.Files} {
			if t != nil && t.Prefix == prefix {
				// Counted as the live folder is: links are files too.
				return TreeState{Exists: true, Files: t.Files + t.Symlinks, Bytes: t.Bytes}
			}
		}
	}
	ts := TreeState{Exists: true}
	for _, e := range c.Entries {
		if strings.HasPrefix(e, prefix) && !strings.HasSuffix(e, "/") {
			ts.Files++
		}
	}
	return ts
}

// inPacks reports whether the archive keeps the tree under prefix in its
// store's packs (an incremental backup): then no entry holds its files.
func inPacks(c ArchiveContents, prefix string) bool {
	if c.Manifest == nil {
		return false
	}
	for _, t := range []*archive.TreeInfo{c.Manifest.Delivery, c.Manifest.Files} {
		if t != nil && t.Prefix == prefix && t.Index != "" {
			return true
		}
	}
	return false
}

func hasPrefix(entries []string, prefix string) bool {
	for _, e := range entries {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// HookText describes an after_restore hook for a plan.
func HookText(h config.Hook) string {
	name := h.Name
	if name != "" {
		name += ": "
	}
	if h.Command != nil {
		return name + "run " + strings.Join(h.Command.Argv, " ")
	}
	db := ""
	if h.Database != nil {
		db = " in database." + h.Database.Name
	}
	return name + "SQL" + db + ": " + firstLine(h.SQL)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// CheckRestoreFresh compares a restore plan's archive and live state with
// what they are now.
func (p *Plan) CheckRestoreFresh(digest string, live LiveState) error {
	rp := p.Restore
	if rp == nil {
		return errors.New("not a restore plan")
	}
	if digest != rp.ArchiveDigest {
		return fmt.Errorf("%w: archive %s changed since the plan was made", ErrStale, rp.Archive)
	}
	for _, s := range rp.Schemas {
		if s.Role == "database" {
			continue
		}
		now := live.Schemas[s.Target]
		if now.Exists != s.Now.Exists || now.Tables != s.Now.Tables {
			return fmt.Errorf("%w: schema %s changed since the plan was made (tables %d → %d); run planb plan --restore again", ErrStale, s.Target, s.Now.Tables, now.Tables)
		}
	}
	for _, t := range []struct {
		plan *TreeRestore
		now  TreeState
	}{{rp.Delivery, live.Delivery}, {rp.Files, live.Files}} {
		if t.plan != nil && t.plan.Now != t.now {
			return fmt.Errorf("%w: %s changed since the plan was made (%d files, %d bytes → %d files, %d bytes); run planb plan --restore again",
				ErrStale, t.plan.Target, t.plan.Now.Files, t.plan.Now.Bytes, t.now.Files, t.now.Bytes)
		}
	}
	return nil
}
