package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "planb.prom")
	if err := os.WriteFile(path, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	ms := []Metric{
		{Resource: `application.all["WEB"]`, Store: "offsite", OK: false, Duration: 1500 * time.Millisecond, Bytes: 0},
		{Resource: "application.MAINFRAME", Store: "node", OK: true, LastSuccess: time.Unix(1767225600, 250e6), Duration: 83 * time.Second, Bytes: 123456789},
		{Resource: "measurement.health", Store: `we\ird"store` + "\n", OK: true, LastSuccess: time.Unix(1767225000, 0), Duration: time.Second, Bytes: 42},
	}
	if err := WriteMetrics(path, ms); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "metrics.prom", b)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so node_exporter can read it", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the metrics file (no temporary left)", len(entries))
	}
}

func TestWriteMetricsErrors(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		path string
		ms   []Metric
		want string
	}{
		"duplicate series": {
			path: filepath.Join(dir, "dup.prom"),
			ms:   []Metric{{Resource: "r", Store: "s"}, {Resource: "r", Store: "s", OK: true}},
			want: `resource "r" in store "s" listed twice`,
		},
		"missing directory": {
			path: filepath.Join(dir, "missing", "planb.prom"),
			want: "no such file or directory",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := WriteMetrics(tc.path, tc.ms)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(tc.path); !os.IsNotExist(err) {
				t.Errorf("a failed write left %s", tc.path)
			}
		})
	}
}
