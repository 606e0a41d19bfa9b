package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/store"
)

// VersionsRecord is the record (records/<kind>/<name>/versions.json) that
// says, per archive of an application, which top-level folders (versions)
// its delivery folder held when the backup began. Plans read it, one small
// read per resource folder, to tell whether a new version was delivered
// since the newest backup without opening that archive. An apply adds the
// archive to it under the resource's lock before the archive's upload
// begins, like the nodes record: an archive that is never committed leaves
// an entry that names nothing and is dropped by the next backup.
const VersionsRecord = "versions.json"

// versionsFormat is the version of the VersionsRecord this planb writes.
const versionsFormat = 1

// versionsDoc is the content of a VersionsRecord.
type versionsDoc struct {
	FormatVersion int            `json:"format_version"`
	Archives      []versionEntry `json:"archives"`
}

// versionEntry lists the versions one archive holds.
type versionEntry struct {
	Archive  string   `json:"archive"`
	Versions []string `json:"versions"`
}

// ReadVersions returns what the versions record of a resource folder says:
// by archive name, the version folders it holds; nothing when there is no
// record.
func ReadVersions(ctx context.Context, st store.Store, ref store.Ref) (map[string][]string, error) {
	doc, err := readVersions(ctx, st, ref)
	if err != nil || doc == nil {
		return nil, err
	}
	out := make(map[string][]string, len(doc.Archives))
	for _, e := range doc.Archives {
		out[e.Archive] = e.Versions
	}
	return out, nil
}

func readVersions(ctx context.Context, st store.Store, ref store.Ref) (*versionsDoc, error) {
	var doc versionsDoc
	found, err := store.ReadJSON(ctx, st, ref, VersionsRecord, &doc)
	if !found || err != nil {
		return nil, err
	}
	return &doc, nil
}

// noteVersions lists the version folders of the delivery folder of the
// resource the run backs up, keeps them for the manifest and records them
// in the store. Listing before the folder is archived errs on the safe
// side: a version delivered during the backup is archived or not, but is
// never recorded without being archived, so it makes the next plan due.
// A folder that cannot be listed records nothing: archiving it fails.
func (run *backupRun) noteVersions(ctx context.Context) error {
	if run.r.DeliveryFolder == "" {
		return nil
	}
	versions, err := files.VersionFolders(run.r.DeliveryFolder)
	if err != nil {
		return nil
	}
	run.mu.Lock()
	run.versions = versions
	run.mu.Unlock()
	return noteVersions(ctx, run.st, plan.RefOf(run.r), run.name, versions)
}

// noteVersions records, under the resource's lock and before the upload
// of archive name begins, the version folders it will hold. Entries of
// archives the store no longer holds are dropped on the way; nothing is
// recorded when the store holds the archive already (its upload will
// fail). A record that does not parse is replaced: it only ever makes
// backups due.
func noteVersions(ctx context.Context, st store.Store, ref store.Ref, name string, versions []string) error {
	doc, err := readVersions(ctx, st, ref)
	if err != nil || doc == nil {
		doc = &versionsDoc{}
	}
	listed, err := st.ListResource(ctx, ref)
	if err != nil {
		return fmt.Errorf("record the versions of %s: %w", ref.Key(name), err)
	}
	held := map[string]bool{}
	for _, a := range listed {
		if !a.Partial {
			held[a.Name] = true
		}
	}
	if held[name] {
		return nil
	}
	doc.Archives = slices.DeleteFunc(doc.Archives, func(e versionEntry) bool { return !held[e.Archive] || e.Archive == name })
	doc.Archives = append(doc.Archives, versionEntry{Archive: name, Versions: versions})
	doc.FormatVersion = versionsFormat
	slices.SortFunc(doc.Archives, func(a, b versionEntry) int { return strings.Compare(a.Archive, b.Archive) })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := st.WriteRecord(ctx, ref, VersionsRecord, append(data, '\n')); err != nil {
		return fmt.Errorf("record the versions of %s: %w", ref.Key(name), err)
	}
	return nil
}
