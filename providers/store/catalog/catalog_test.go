package catalog

import (
	"strings"
	"testing"
	"time"
)

func TestArchiveNameRoundTrip(t *testing.T) {
	plus2 := time.FixedZone("UTC+2", 2*3600)
	tests := map[string]struct {
		resource string
		t        time.Time
		want     string
	}{
		"plain":       {"MAINFRAME", time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC), "MAINFRAME_2026-11-25-20-30-00.zip"},
		"underscores": {"my_app__v2_", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "my_app__v2__2026-01-02-03-04-05.zip"},
		"non-ASCII":   {"Ünïcødé_アプリ", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), "Ünïcødé_アプリ_2026-12-31-23-59-59.zip"},
		"dots":        {"web.shop", time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC), "web.shop_2026-11-25-20-30-00.zip"},
		"converted to UTC": {
			"X", time.Date(2026, 11, 26, 0, 30, 0, 0, plus2), "X_2026-11-25-22-30-00.zip",
		},
		"sub-second dropped": {"X", time.Date(2026, 11, 25, 20, 30, 0, 999_999_999, time.UTC), "X_2026-11-25-20-30-00.zip"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ArchiveName(tc.resource, tc.t)
			if got != tc.want {
				t.Fatalf("ArchiveName = %q, want %q", got, tc.want)
			}
			for _, file := range []string{got, got + PartialSuffix} {
				res, ts, partial, ok := ParseArchiveName(file)
				if !ok || res != tc.resource || !ts.Equal(tc.t.Truncate(time.Second)) || ts.Location() != time.UTC ||
					partial != strings.HasSuffix(file, PartialSuffix) {
					t.Errorf("ParseArchiveName(%q) = %q, %v, %v, %v", file, res, ts, partial, ok)
				}
			}
		})
	}
}

func TestParseArchiveName(t *testing.T) {
	tests := map[string]struct {
		file     string
		ok       bool
		resource string
		partial  bool
	}{
		"zip":                  {"X_2026-11-25-20-30-00.zip", true, "X", false},
		"partial":              {"X_2026-11-25-20-30-00.zip.partial", true, "X", true},
		"tar.zst":              {"X_2026-11-25-20-30-00.tar.zst", true, "X", false},
		"underscore in name":   {"a_b_2026-11-25-20-30-00.zip", true, "a_b", false},
		"empty resource":       {"_2026-11-25-20-30-00.zip", false, "", false},
		"no separator":         {"X2026-11-25-20-30-00.zip", false, "", false},
		"wrong separator":      {"X-2026-11-25-20-30-00.zip", false, "", false},
		"month 13":             {"X_2026-13-25-20-30-00.zip", false, "", false},
		"february 30":          {"X_2026-02-30-20-30-00.zip", false, "", false},
		"short field":          {"X_2026-11-25-20-30-0.zip", false, "", false},
		"no extension":         {"X_2026-11-25-20-30-00", false, "", false},
		"upper-case extension": {"X_2026-11-25-20-30-00.ZIP", false, "", false},
		"other suffix":         {"X_2026-11-25-20-30-00.zip.tmp", false, "", false},
		"double partial":       {"X_2026-11-25-20-30-00.zip.partial.partial", false, "", false},
		"date only":            {"X_2026-11-25.zip", false, "", false},
		"only extension":       {".zip", false, "", false},
		"manifest":             {"manifest.json", false, "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, ts, partial, ok := ParseArchiveName(tc.file)
			if ok != tc.ok || res != tc.resource || partial != tc.partial {
				t.Fatalf("ParseArchiveName(%q) = %q, %v, partial %v, ok %v; want %q, partial %v, ok %v",
					tc.file, res, ts, partial, ok, tc.resource, tc.partial, tc.ok)
			}
			if ok && !ts.Equal(time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)) {
				t.Errorf("time = %v", ts)
			}
		})
	}
}

func TestRefValidate(t *testing.T) {
	tests := map[string]struct {
		ref     Ref
		wantErr string
	}{
		"application":  {Ref{KindApplications, "MAINFRAME"}, ""},
		"measurement":  {Ref{KindMeasurement, "health"}, ""},
		"persistence":  {Ref{KindPersistence, "node db"}, ""},
		"non-ASCII":    {Ref{KindApplications, "Ünïcødé"}, ""},
		"unknown kind": {Ref{"locks", "x"}, `unknown resource kind "locks"`},
		"empty name":   {Ref{KindApplications, ""}, "empty"},
		"dot dot":      {Ref{KindApplications, ".."}, "not a name"},
		"slash":        {Ref{KindApplications, "a/b"}, "slash"},
		"backslash":    {Ref{KindApplications, `a\b`}, "slash"},
		"newline":      {Ref{KindApplications, "a\nb"}, "control character"},
		"invalid utf8": {Ref{KindApplications, "a\xffb"}, "UTF-8"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.ref.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
	if got := (Ref{KindApplications, "X"}).Key("X_2026-11-25-20-30-00.zip"); got != "applications/X/X_2026-11-25-20-30-00.zip" {
		t.Errorf("Key = %q", got)
	}
}

func TestLockInfoString(t *testing.T) {
	i := LockInfo{Owner: "root", Host: "h", PID: 123, Time: time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)}
	want := "pid 123 on host h since 2026-11-25T20:30:00Z (user root)"
	if got := i.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
