package plan

import "testing"

func TestFormatBytes(t *testing.T) {
	tests := map[string]struct {
		n    int64
		want string
	}{
		"bytes":     {512, "512 B"},
		"kibibytes": {1536, "1.5 KiB"},
		"mebibytes": {3 << 20, "3.0 MiB"},
		"gibibytes": {5<<30 + 1<<29, "5.5 GiB"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := FormatBytes(tc.n); got != tc.want {
				t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
