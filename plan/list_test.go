package plan

import "testing"

func TestListStatus(t *testing.T) {
	for _, tc := range []struct {
		partial, configured, shared bool
		want                        string
	}{
		{false, true, false, ArchiveComplete},
		{false, true, true, ArchiveComplete},
		{true, true, false, ArchivePartial},
		{true, false, true, ArchivePartial},
		{false, false, true, ArchiveForeign},
		{false, false, false, ArchiveOrphaned},
	} {
		if got := ListStatus(tc.partial, tc.configured, tc.shared); got != tc.want {
			t.Errorf("ListStatus(partial %v, configured %v, shared %v) = %q, want %q", tc.partial, tc.configured, tc.shared, got, tc.want)
		}
	}
}

func TestMatchesArchive(t *testing.T) {
	const res, folder, name = "application.crm[0]", "application/crm", "crm_20261125T080000Z.zip"
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{"", true},
		{"application.crm[0]", true},
		{"application.crm", true},
		{"application.cr", false},
		{"application/crm", true},
		{"crm_20261125T080000Z.zip", true},
		{"crm_20261125T080000Z", true},
		{"crm_20261125T080000", false},
	} {
		if got := MatchesArchive(tc.filter, res, folder, name); got != tc.want {
			t.Errorf("MatchesArchive(%q) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}
