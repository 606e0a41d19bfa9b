package plan

import (
	"slices"
	"strings"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// VersionFacts is what a plan needs to know to make an application due when
// a new version is delivered. The caller gathers both: the planner lists no
// folder and opens no archive.
type VersionFacts struct {
	// Delivered holds, by resource address, the top-level folders of the
	// resource's delivery folder now (a directory listing). A resource
	// that is absent was not listed (no delivery folder, or it could not
	// be read): it is never due for a new version.
	Delivered map[string][]string
	// Archived holds, by archive key (<kind>/<name>/<file>), the version
	// folders an archive holds, as the stores recorded them when it was
	// written (runner.VersionsRecord). An archive that is absent was made
	// by an older planb, adopted, or its record was lost: it triggers
	// nothing.
	Archived map[string][]string
}

// newVersions returns the versions delivered to r that the newest complete
// archive in any of its stores does not hold; nothing when r opted out
// (on_new_version = false), when its delivery folder was not listed, or
// when what the newest archive holds is unknown.
func newVersions(r *config.Resource, views []*storeView, facts VersionFacts) []string {
	if !r.OnNewVersion || r.DeliveryFolder == "" {
		return nil
	}
	delivered, ok := facts.Delivered[r.Address]
	if !ok {
		return nil
	}
	var newest *catalog.Archive
	for _, v := range views {
		if v.newest != nil && (newest == nil || v.newest.Time.After(newest.Time)) {
			newest = v.newest
		}
	}
	if newest == nil {
		return nil
	}
	archived, ok := facts.Archived[newest.Key()]
	if !ok {
		return nil
	}
	var out []string
	for _, v := range delivered {
		if !slices.Contains(archived, v) {
			out = append(out, v)
		}
	}
	return out
}

// newVersionReason says why new versions make a resource due: "new version
// v3 delivered", "new versions v3, v4 delivered".
func newVersionReason(versions []string) string {
	if len(versions) == 1 {
		return "new version " + versions[0] + " delivered"
	}
	return "new versions " + strings.Join(versions, ", ") + " delivered"
}

// markNewVersions makes every store of the resource due when new versions
// were delivered since its newest backup: a copy of an archive would not
// hold them, so no store may count as fresh.
func markNewVersions(r *config.Resource, views []*storeView, facts VersionFacts) {
	versions := newVersions(r, views, facts)
	if len(versions) == 0 {
		return
	}
	why := newVersionReason(versions)
	for _, v := range views {
		if v.due {
			v.reason += "; " + why
			continue
		}
		v.due, v.reason = true, why
	}
}
