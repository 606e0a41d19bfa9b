package plan

import (
	"strings"
)

// Archive statuses `planb list` shows.
const (
	// StatusComplete is an archive planb made, or one whose contents were
	// not read.
	StatusComplete = "complete"
	// StatusPartial is a leftover of an interrupted run.
	StatusPartial = "partial"
	// StatusAdopted is an archive made by the original system, without
	// manifest.
	StatusAdopted = "adopted"
	// StatusOrphaned is an archive whose resource is no longer configured.
	StatusOrphaned = "orphaned"
	// StatusForeign is an archive in a shared store of a resource another
	// configuration backs up.
	StatusForeign = "foreign"
	// StatusDamaged is an archive that could not be read.
	StatusDamaged = "damaged"
)

// ListStatus classifies an archive of a store listing by what the listing
// alone tells: partial, foreign (no configured resource, shared store),
// orphaned (no configured resource) or complete. Reading a complete
// archive's manifest may tell it adopted or damaged later.
func ListStatus(partial, configured, shared bool) string {
	switch {
	case partial:
		return StatusPartial
	case !configured && shared:
		return StatusForeign
	case !configured:
		return StatusOrphaned
	}
	return StatusComplete
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
