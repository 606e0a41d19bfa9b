package catalog

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseArchiveName checks that every name ParseArchiveName accepts is rebuilt exactly
// from what it returns, and that the names ArchiveName makes parse back.
func FuzzParseArchiveName(f *testing.F) {
	for _, s := range []string{
		"MAINFRAME_2026-11-25-20-30-00.zip",
		"X_2026-11-25-20-30-00.zip.partial",
		"X_2026-11-25-20-30-00.tar.zst",
		"X_2026-11-25-20-30-00.safety.zip",
		"X_2026-11-25-20-30-00.zip.age",
		"X_2026-11-25-20-30-00.safety.zip.age.partial",
		"X_2026-11-25-20-30-00.age",
		"X_2026-11-25-20-30-00.zip.partial.age",
		"a_b__2024-02-29-23-59-59.zip",
		"Ünïcødé_アプリ_0000-01-01-00-00-00.zip",
		"x_9999-12-31-23-59-59.zip",
		"_2026-11-25-20-30-00.zip",
		"X_2026-02-30-20-30-00.zip",
		"X_2026-11-25-24-00-00.zip",
		"X_2026-11-25-20-30-60.zip",
		"X_+026-11-25-20-30-00.zip",
		"X_2026-11-25-20-30-00.ZIP",
		"X_2026-11-25-20-30-00.zip.partial.partial",
		"X_2026-11-25-20-30-00.zip_2026-11-25-20-30-00.zip",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		res, ts, partial, ok := ParseArchiveName(name)
		if !ok {
			if res != "" || !ts.IsZero() || partial {
				t.Fatalf("refused %q but returned %q, %v, %v", name, res, ts, partial)
			}
			return
		}
		if res == "" || ts.Location() != time.UTC || ts.Nanosecond() != 0 || partial != strings.HasSuffix(name, PartialSuffix) {
			t.Fatalf("ParseArchiveName(%q) = %q, %v, %v", name, res, ts, partial)
		}
		suffix := ""
		if partial {
			suffix = PartialSuffix
		}
		ext := ""
		for _, e := range extensions {
			if res+"_"+ts.Format(timeLayout)+e+suffix == name {
				ext = e
			}
		}
		if ext == "" {
			t.Fatalf("ParseArchiveName(%q) = %q, %v: not the name's parts", name, res, ts)
		}
		if ext == ".zip" && ArchiveName(res, ts)+suffix != name {
			t.Fatalf("ArchiveName(ParseArchiveName(%q)) = %q", name, ArchiveName(res, ts))
		}
		for _, made := range []string{ArchiveName(res, ts), ArchiveName(res, ts) + PartialSuffix} {
			r2, t2, p2, ok2 := ParseArchiveName(made)
			if !ok2 || r2 != res || !t2.Equal(ts) || p2 != strings.HasSuffix(made, PartialSuffix) {
				t.Fatalf("ParseArchiveName(%q) = %q, %v, %v, %v", made, r2, t2, p2, ok2)
			}
		}
	})
}

// FuzzArchiveName checks that the name ArchiveName makes for any resource and time parses
// back to them (the time in UTC, to the second), when the year has four digits.
func FuzzArchiveName(f *testing.F) {
	f.Add("MAINFRAME", int64(1795638600), int64(0))
	f.Add("a_b_2026-11-25-20-30-00.zip", int64(0), int64(999_999_999))
	f.Add("", int64(-62135596800), int64(0))
	f.Add("x", int64(253402300799), int64(1))
	f.Add("x", int64(253402300800), int64(0))
	f.Fuzz(func(t *testing.T, resource string, sec, nsec int64) {
		at := time.Unix(sec, nsec)
		name := ArchiveName(resource, at)
		res, ts, partial, ok := ParseArchiveName(name)
		want := resource != "" && at.UTC().Year() >= 0 && at.UTC().Year() <= 9999
		if ok != want {
			t.Fatalf("ParseArchiveName(%q) ok = %v, want %v", name, ok, want)
		}
		if ok && (res != resource || !ts.Equal(at.Truncate(time.Second)) || partial) {
			t.Fatalf("ParseArchiveName(%q) = %q, %v, %v; made from %q, %v", name, res, ts, partial, resource, at)
		}
	})
}
