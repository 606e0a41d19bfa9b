package bench

import (
	"bytes"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	s := func(wall int, rss int64) Sample { return Sample{Wall: time.Duration(wall) * time.Second, PeakRSS: rss} }
	tests := map[string]struct {
		in   []Sample
		want Sample
	}{
		"none":          {nil, Sample{}},
		"one":           {[]Sample{s(3, 7)}, s(3, 7)},
		"odd unsorted":  {[]Sample{s(9, 1), s(1, 5), s(4, 3)}, s(4, 3)},
		"even averages": {[]Sample{s(1, 10), s(3, 30), s(10, 20), s(2, 40)}, Sample{Wall: 2500 * time.Millisecond, PeakRSS: 25}},
		"fields independent": {
			[]Sample{{Wall: 1, CPU: 30, Output: 5}, {Wall: 2, CPU: 10, Output: 6}, {Wall: 3, CPU: 20, Output: 4}},
			Sample{Wall: 2, CPU: 20, Output: 5},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Median(tc.in); got != tc.want {
				t.Errorf("Median = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	tests := map[string]struct {
		num, den float64
		want     float64 // NaN: n/a
	}{
		"plain":          {6, 3, 2},
		"zero baseline":  {6, 0, math.NaN()},
		"negative":       {1, -1, math.NaN()},
		"zero numerator": {0, 4, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Ratio(tc.num, tc.den)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && got != tc.want) {
				t.Errorf("Ratio(%v, %v) = %v, want %v", tc.num, tc.den, got, tc.want)
			}
		})
	}
}

func TestWriteDeliveryIsDeterministicAndSized(t *testing.T) {
	s := Size{DeliveryFiles: 120, DeliveryMB: 1}
	a, b := t.TempDir(), t.TempDir()
	na, err := WriteDelivery(a, "app01", s)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := WriteDelivery(b, "app01", s)
	if err != nil {
		t.Fatal(err)
	}
	if na != nb {
		t.Fatalf("two runs wrote %d and %d bytes", na, nb)
	}
	if want := int64(1 << 20); na < want*8/10 || na > want*12/10 {
		t.Errorf("wrote %d bytes, want about %d", na, want)
	}
	files, onDisk := 0, int64(0)
	err = filepath.Walk(a, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		onDisk += info.Size()
		rel, _ := filepath.Rel(a, p)
		other, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		mine, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(mine, other) {
			t.Errorf("%s differs between runs", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != s.DeliveryFiles || onDisk != na {
		t.Errorf("tree holds %d files / %d bytes, want %d / %d", files, onDisk, s.DeliveryFiles, na)
	}
	nc, err := WriteDelivery(t.TempDir(), "app02", s)
	if err != nil {
		t.Fatal(err)
	}
	if nc == na {
		t.Errorf("applications app01 and app02 got trees of the same size %d: content should depend on the name", na)
	}
}

func TestSeedSQLProportions(t *testing.T) {
	rows := func(stmts []string, schema string) string {
		for _, s := range stmts {
			if strings.HasPrefix(s, `CREATE SCHEMA "`+schema+`"`) {
				// The first generate_series bound of the schema's statement.
				_, after, _ := strings.Cut(s, "generate_series(1")
				_, after, _ = strings.Cut(after, ", ")
				n, _, _ := strings.Cut(after, ")")
				return n
			}
		}
		t.Fatalf("no CREATE SCHEMA %q in %q", schema, stmts)
		return ""
	}
	small := SeedSQL("app01", Size{AnalysisMB: 10})
	big := SeedSQL("app01", Size{AnalysisMB: 100})
	for _, schema := range Schemas("app01") {
		if rows(small, schema) == rows(big, schema) {
			t.Errorf("schema %s: same row count %s at 10 and 100 MB", schema, rows(small, schema))
		}
	}
	if !strings.HasPrefix(small[0], `DROP SCHEMA IF EXISTS "app01_mngt" CASCADE`) {
		t.Errorf("seeding does not start by dropping the schemas: %q", small[0])
	}
	if got := MeasurementSQL(Size{MeasurementMB: 1}, []string{"a'b"})[0]; !strings.Contains(got, `ARRAY['a''b']`) {
		t.Errorf("application names are not quoted as SQL strings: %s", got)
	}
}

func TestNextVersionChangesAndAddsTheAskedShare(t *testing.T) {
	dir := t.TempDir()
	s := Size{DeliveryFiles: 200, DeliveryMB: 1}
	if _, err := WriteVersions(dir, "app01", s, 1, 10, 5); err != nil {
		t.Fatal(err)
	}
	c, err := NextVersion(filepath.Join(dir, "v1"), filepath.Join(dir, "v2"), 10, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if c.Changed != 20 || c.New != 10 || c.Files != 210 {
		t.Fatalf("NextVersion = %+v, want 20 changed, 10 new, 210 files", c)
	}
	same, differ, added := 0, 0, 0
	var onDisk int64
	err = filepath.Walk(filepath.Join(dir, "v2"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		onDisk += info.Size()
		rel, _ := filepath.Rel(filepath.Join(dir, "v2"), p)
		old, err := os.ReadFile(filepath.Join(dir, "v1", rel))
		if os.IsNotExist(err) {
			added++
			return nil
		}
		if err != nil {
			return err
		}
		now, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Equal(old, now) {
			same++
		} else {
			differ++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if same != 180 || differ != 20 || added != 10 || onDisk != c.Bytes {
		t.Errorf("v2 holds %d identical, %d changed, %d new files, %d bytes; want 180, 20, 10, %d", same, differ, added, onDisk, c.Bytes)
	}
	// The same seed derives the same version.
	again, err := NextVersion(filepath.Join(dir, "v1"), filepath.Join(dir, "v2again"), 10, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if again != c {
		t.Errorf("a second derivation with the same seed gave %+v, want %+v", again, c)
	}
}

func TestWriteVersionsDerivesEachFromThePrevious(t *testing.T) {
	dir := t.TempDir()
	n, err := WriteVersions(dir, "app01", Size{DeliveryFiles: 100, DeliveryMB: 1}, 3, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]int{}
	var onDisk int64
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[strings.SplitN(rel, string(filepath.Separator), 2)[0]]++
		onDisk += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"v1": 100, "v2": 105, "v3": 110}; !maps.Equal(files, want) {
		t.Errorf("files per version %v, want %v", files, want)
	}
	if onDisk != n {
		t.Errorf("WriteVersions reported %d bytes, %d on disk", n, onDisk)
	}
}
