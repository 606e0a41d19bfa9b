package catalog

import (
	"fmt"
	"strings"
	"time"
)

// PartialSuffix is appended to the name of an archive while it is written.
const PartialSuffix = ".partial"

// SafetySuffix ends the names of safety backups: the state a restore
// replaced, taken just before it.
const SafetySuffix = ".safety.zip"

// EncryptedSuffix ends the names of encrypted archives:
// "<resource>_YYYY-MM-DD-HH-mm-SS.zip.age".
const EncryptedSuffix = ".age"

// timeLayout is the time part of archive names.
const timeLayout = "2006-01-02-15-04-05"

// extensions are the archive formats whose names ParseArchiveName accepts:
// ZIP (the default and the original system's) and planb's opt-in tar.zst.
// A safety backup (see SafetyArchiveName) ends in ".safety.zip". Each may
// be followed by EncryptedSuffix: the archive encrypted with age.
var extensions = []string{
	SafetySuffix + EncryptedSuffix, ".zip" + EncryptedSuffix, ".tar.zst" + EncryptedSuffix,
	SafetySuffix, ".zip", ".tar.zst",
}

// SafetyArchiveName returns "<resource>_YYYY-MM-DD-HH-mm-SS.safety.zip",
// the name of the safety backup a restore takes at t. Safety backups are
// never the default archive to restore, and retention does not count them:
// they have their own lifetime.
func SafetyArchiveName(resource string, t time.Time) string {
	return resource + "_" + t.UTC().Format(timeLayout) + SafetySuffix
}

// IsSafety reports whether an archive name (with or without ".partial",
// encrypted or not) is a safety backup's.
func IsSafety(name string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(name, PartialSuffix), EncryptedSuffix)
	return strings.HasSuffix(base, SafetySuffix)
}

// ArchiveName returns "<resource>_YYYY-MM-DD-HH-mm-SS.zip" for t in UTC, the
// original CAST system's pattern. Sub-second precision is dropped.
func ArchiveName(resource string, t time.Time) string {
	return resource + "_" + t.UTC().Format(timeLayout) + ".zip"
}

// ParseArchiveName splits an archive file name, with or without the
// ".partial" suffix, into resource name and time (UTC). The time is the last
// "_"-separated part before the extension, so resource names may contain '_'.
// Extensions ".zip", ".safety.zip" and ".tar.zst" are recognised, each also
// with ".age" appended (encrypted). ok is false for any other
// name, including an empty resource or an impossible date.
func ParseArchiveName(file string) (resource string, t time.Time, partial bool, ok bool) {
	base, partial := strings.CutSuffix(file, PartialSuffix)
	stem := ""
	for _, ext := range extensions {
		if s, found := strings.CutSuffix(base, ext); found {
			stem = s
			break
		}
	}
	if len(stem) < len(timeLayout)+2 {
		return "", time.Time{}, false, false
	}
	resource, ts := stem[:len(stem)-len(timeLayout)-1], stem[len(stem)-len(timeLayout):]
	if stem[len(resource)] != '_' {
		return "", time.Time{}, false, false
	}
	t, err := time.ParseInLocation(timeLayout, ts, time.UTC)
	if err != nil || t.Format(timeLayout) != ts {
		return "", time.Time{}, false, false
	}
	return resource, t, partial, true
}

// CheckArchiveName checks that name is a complete archive name of ref's
// resource, the only names a store creates and opens.
func CheckArchiveName(ref Ref, name string) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	res, _, partial, ok := ParseArchiveName(name)
	if !ok || partial || res != ref.Name || validName(name) != nil {
		return fmt.Errorf("%q is not an archive name of %s (want %s_YYYY-MM-DD-HH-mm-SS.zip)", name, ref, ref.Name)
	}
	return nil
}

// CheckDeleteName checks that name is a complete or partial archive name
// of ref's resource, the names a store deletes.
func CheckDeleteName(ref Ref, name string) error {
	return CheckArchiveName(ref, strings.TrimSuffix(name, PartialSuffix))
}
