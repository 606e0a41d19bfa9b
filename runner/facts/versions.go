package facts

import (
	"context"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/runner"
)

// Versions gathers what a plan needs to make applications due when a new
// version is delivered: a listing of the top level of each delivery folder
// (nothing below it, no database), and the versions records of the folders
// of the catalog. A delivery folder that cannot be listed is logged and
// triggers nothing: the backup that archives it says what is wrong; so does
// a versions record that cannot be read.
func (e *Estate) Versions(ctx context.Context, cat plan.Catalog, resources []*config.Resource) (plan.VersionFacts, error) {
	facts := plan.VersionFacts{Delivered: map[string][]string{}, Archived: map[string][]string{}}
	var watched []*config.Resource
	for _, r := range resources {
		if !r.OnNewVersion || r.DeliveryFolder == "" {
			continue
		}
		versions, err := files.VersionFolders(r.DeliveryFolder)
		if err != nil {
			e.logger().Warn("cannot tell whether a new version was delivered", "resource", r.Address, "err", err)
			continue
		}
		facts.Delivered[r.Address] = versions
		watched = append(watched, r)
	}
	if len(watched) == 0 {
		return facts, nil
	}
	err := readFolders(catalogFolders(cat, watched, false), func(f storeFolder) (func(), error) {
		byArchive, err := runner.ReadVersions(ctx, e.Stores[f.store], f.ref)
		if err != nil {
			// The record only ever makes backups due; the next backup
			// replaces one that does not parse.
			e.logger().Warn("cannot tell which versions the archives hold", "store", f.store, "folder", f.ref.String(), "err", err)
			return func() {}, nil
		}
		return func() {
			for name, versions := range byArchive {
				facts.Archived[f.ref.Key(name)] = versions
			}
		}, nil
	})
	return facts, err
}
