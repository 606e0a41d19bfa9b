// Package plan turns a configuration and the catalog of the stores into a
// plan: per resource and store, what must be backed up, copied, pruned or
// cleaned, and why. It reads no files but the ones it is handed and opens no
// connections; the catalog comes from the stores through the caller.
package plan

import (
	"time"
)

// FormatVersion is the version of the plan document (saved plans and
// `plan --json`). Fields are added, never repurposed.
const FormatVersion = "1.0"

// ActionType is what an action does.
type ActionType string

const (
	// Backup dumps a resource into a new archive in one store.
	Backup ActionType = "backup"
	// Copy copies an archive from one store into another: no second dump.
	Copy ActionType = "copy"
	// Prune deletes archives that retention no longer keeps.
	Prune ActionType = "prune"
	// Clean deletes partial leftovers of an interrupted run.
	Clean ActionType = "clean"
	// Restore replaces a resource's live state by an archive's.
	Restore ActionType = "restore"
)

// Plan is what `planb plan` prints and `planb apply` executes.
type Plan struct {
	FormatVersion string    `json:"format_version"`
	PlanbVersion  string    `json:"planb_version"`
	Operation     string    `json:"operation"` // "backup" or "restore"
	CreatedAt     time.Time `json:"created_at"`
	// Now is the time schedules and retention were evaluated at (--now).
	Now          time.Time `json:"now"`
	ConfigDigest string    `json:"config_digest"`
	// Node is the planb node the plan was made for (planb { node }).
	Node    string    `json:"node,omitempty"`
	Targets []string  `json:"targets"`
	Actions []*Action `json:"actions"`
	// Resources is the state of every planned resource in every store,
	// including those that are up to date.
	Resources []ResourceState `json:"resources"`
	// Orphans are archives of resources that are no longer configured.
	// They are reported, never deleted by a plan.
	Orphans []ArchiveRef `json:"orphans"`
	// Foreign counts, per shared store, the archives of resources that
	// other configurations back up there.
	Foreign map[string]int `json:"foreign"`
	// Catalog lists the store folders the plan relied on, with the
	// archives they held. Apply refuses the plan when any of them changed.
	Catalog []CatalogFolder `json:"catalog"`
	// Restore describes a restore plan (Operation "restore").
	Restore *RestorePlan `json:"restore,omitempty"`
	// Drills is where every planned resource that a drill covers stands:
	// due (a drill action), up to date, or without an archive to drill.
	Drills []DrillState `json:"drills"`
	// Conflicts are the resources in stores where nodes outside the
	// resource's owners wrote backups: two nodes back up one resource.
	// Such a plan is refused (see ConflictError).
	Conflicts []NodeConflict `json:"node_conflicts"`
	// Unreachable are the stores the plan could not list because they
	// could not be reached; their resources are StatusUnknown there.
	Unreachable []UnreachableStore `json:"unreachable_stores"`
}

// Action is one unit of work of a plan.
type Action struct {
	ID       string     `json:"id"`
	Type     ActionType `json:"type"`
	Resource string     `json:"resource"`
	Store    string     `json:"store"`
	// Archive is the archive written (backup), copied (copy) or restored.
	Archive string `json:"archive,omitempty"`
	// FromStore is the store a copy or restore reads from.
	FromStore string `json:"from_store,omitempty"`
	Reason    string `json:"reason"`
	// Delete lists what prune and clean remove.
	Delete []Deletion `json:"delete,omitempty"`
	// Keep lists what prune keeps, with the rules that keep each.
	Keep []Kept `json:"keep,omitempty"`
	// Schemas limits a backup to these schemas (a safety backup before a
	// restore saves only the schemas that exist); nil means all.
	Schemas []string `json:"schemas,omitempty"`
	// Drill says which archive a drill restores (Archive, from Store) and
	// why.
	Drill     *DrillAction `json:"drill,omitempty"`
	DependsOn []string     `json:"depends_on,omitempty"`
}

// Deletion is an archive a prune or clean action removes.
type Deletion struct {
	Archive string    `json:"archive"`
	Time    time.Time `json:"time"`
	Size    int64     `json:"size"`
	Why     string    `json:"why"`
}

// Kept is an archive a prune action keeps.
type Kept struct {
	Archive string    `json:"archive"`
	Time    time.Time `json:"time"`
	Reasons []string  `json:"reasons"`
}

// Status summarises a resource in one store.
type Status string

const (
	StatusUpToDate Status = "up to date"
	StatusDue      Status = "due"
	StatusCopy     Status = "copy"
)

// ResourceState is a resource in one store as the plan found it.
type ResourceState struct {
	Resource string    `json:"resource"`
	Store    string    `json:"store"`
	Status   Status    `json:"status"`
	Newest   string    `json:"newest,omitempty"`
	NewestAt time.Time `json:"newest_at,omitzero"`
	Backups  int       `json:"backups"`
	Partials int       `json:"partials"`
	// Safety counts safety backups (not counted in Backups).
	Safety int `json:"safety_backups,omitempty"`
	// Future names archives dated more than FutureSkew after the plan's
	// time: never the newest, never counted or pruned by retention.
	Future []string `json:"future"`
	// PartialsKept lists the partial archives the plan does not clean:
	// another run still writes them, or no run recorded them and they are
	// recent (see catalog.Cleanable).
	PartialsKept []PartialKept `json:"partials_kept"`
	// Damaged lists archives a check that read them found damaged (see
	// Options.Damaged): never the newest, never copied, never counted or
	// pruned by retention.
	Damaged []Damage `json:"damaged"`
	// OtherNodes lists the archives and partials that nodes outside the
	// resource's owners wrote: never counted, copied, pruned or cleaned
	// by this node.
	OtherNodes []NodeArchive `json:"other_nodes"`
	// Unreachable is set with StatusUnknown: "store unreachable (<why>)".
	Unreachable string `json:"unreachable,omitempty"`
}

// NodeArchive is an archive (or partial) of a resource in a store, and
// the node that wrote it.
type NodeArchive struct {
	Archive string    `json:"archive"`
	Node    string    `json:"node"`
	Time    time.Time `json:"time"`
	Partial bool      `json:"partial,omitempty"`
	Safety  bool      `json:"safety,omitempty"`
}

// NodeConflict is a resource in a store where another node, not among its
// owners, wrote backups (complete or under way): the node and what it
// wrote.
type NodeConflict struct {
	Resource string `json:"resource"`
	Store    string `json:"store"`
	Node     string `json:"node"`
	// Owners are the resource's owners in the store, as configured.
	Owners   []string `json:"owners"`
	Archives int      `json:"archives"`
	Partials int      `json:"partials"`
	// Newest is the newest complete archive the node wrote there.
	Newest string `json:"newest,omitempty"`
}

// Damage is what a check that read an archive (a copy of it, a prune
// checking what it keeps, planb verify) found wrong with it.
type Damage struct {
	Archive string    `json:"archive"`
	Found   time.Time `json:"found"`
	// By names the check: "copy to store.x", "prune", "verify".
	By      string `json:"by"`
	Problem string `json:"problem"`
}

// PartialKept is a partial archive a plan does not clean, and whose it is.
type PartialKept struct {
	Archive string `json:"archive"`
	Why     string `json:"why"`
}

// ArchiveRef names an archive in a store.
type ArchiveRef struct {
	Store   string    `json:"store"`
	Folder  string    `json:"folder"` // <kind>/<name>
	Archive string    `json:"archive"`
	Time    time.Time `json:"time"`
	Size    int64     `json:"size"`
}

// CatalogFolder is one resource folder of one store as the plan saw it.
type CatalogFolder struct {
	Store    string         `json:"store"`
	Folder   string         `json:"folder"`
	Archives []CatalogEntry `json:"archives"`
}

// CatalogEntry is an archive the plan relied on.
type CatalogEntry struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Counts tallies a plan's actions for its summary line.
type Counts struct {
	Backup, Copy, Prune, Clean, Restore, Drill, UpToDate int
	// Unknown counts resource/store pairs in unreachable stores.
	Unknown int
}

// Counts returns how many actions of each type the plan holds, and how many
// resource/store pairs are up to date.
func (p *Plan) Counts() Counts {
	var c Counts
	for _, a := range p.Actions {
		switch a.Type {
		case Backup:
			c.Backup++
		case Copy:
			c.Copy++
		case Prune:
			c.Prune++
		case Clean:
			c.Clean++
		case Restore:
			c.Restore++
		case Drill:
			c.Drill++
		}
	}
	for _, r := range p.Resources {
		switch r.Status {
		case StatusUpToDate:
			c.UpToDate++
		case StatusUnknown:
			c.Unknown++
		}
	}
	return c
}

// HasChanges reports whether applying the plan would do anything.
func (p *Plan) HasChanges() bool { return len(p.Actions) > 0 }

// Action returns the action with the given ID, or nil.
func (p *Plan) Action(id string) *Action {
	for _, a := range p.Actions {
		if a.ID == id {
			return a
		}
	}
	return nil
}
