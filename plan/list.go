package plan

import (
	"strings"
)

// Archive statuses `planb list` shows (ListStatus); resources have Status
// values of their own (StatusUpToDate …).
const (
	// ArchiveComplete is an archive planb made, or one whose contents were
	// not read.
	ArchiveComplete = "complete"
	// ArchivePartial is a leftover of an interrupted run.
	ArchivePartial = "partial"
	// ArchiveAdopted is an archive made by the original system, without
	// manifest.
	ArchiveAdopted = "adopted"
	// ArchiveOrphaned is an archive whose resource is no longer configured.
	ArchiveOrphaned = "orphaned"
	// ArchiveForeign is an archive in a shared store of a resource another
	// configuration backs up.
	ArchiveForeign = "foreign"
	// ArchiveDamaged is an archive that could not be read.
	ArchiveDamaged = "damaged"
)

// ListStatus classifies an archive of a store listing by what the listing
// alone tells: partial, foreign (no configured resource, shared store),
// orphaned (no configured resource) or complete. Reading a complete
// archive's manifest may tell it adopted or damaged later.
func ListStatus(partial, configured, shared bool) string {
	switch {
	case partial:
		return ArchivePartial
	case !configured && shared:
		return ArchiveForeign
	case !configured:
		return ArchiveOrphaned
	}
	return ArchiveComplete
}

// MatchesArchive reports whether filter ("" matches all) names an archive:
// its resource address (or one of its instances), its folder, or its name
// with or without ".zip".
func MatchesArchive(filter, resource, folder, archive string) bool {
	if filter == "" {
		return true
	}
	return resource == filter || strings.HasPrefix(resource, filter+"[") || folder == filter ||
		archive == filter || strings.TrimSuffix(archive, ".zip") == filter
}
