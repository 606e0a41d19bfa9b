package plan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

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

func TestPruneShowsFewKeptArchives(t *testing.T) {
	a := &Action{ID: "prune application.A store.node", Type: Prune, Resource: "application.A", Store: "node", Reason: "1 archive(s) no longer kept by retention.r"}
	a.Delete = []Deletion{{Archive: "A_2026-01-01-00-00-00.zip", Why: "not kept by any rule"}}
	for i := range 8 {
		a.Keep = append(a.Keep, Kept{Archive: fmt.Sprintf("A_2026-11-%02d-00-00-00.zip", 20-i), Reasons: []string{fmt.Sprintf("daily %d/8", i+1)}})
	}
	p := &Plan{Operation: "backup", Actions: []*Action{a}}
	var buf bytes.Buffer
	if err := p.WriteHuman(&buf, Style{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "      keep   A_") != maxKeptShown || !strings.Contains(out, "keep   3 more (plan --json lists them all)") ||
		!strings.Contains(out, "delete A_2026-01-01-00-00-00.zip") {
		t.Errorf("prune output:\n%s", out)
	}
}

func TestManyUpToDateAreCounted(t *testing.T) {
	p := &Plan{Operation: "backup", Actions: []*Action{}}
	for i := range maxUpToDateShown + 1 {
		p.Resources = append(p.Resources, ResourceState{Resource: fmt.Sprintf("application.all[\"A%d\"]", i), Store: "node", Status: StatusUpToDate})
	}
	var buf bytes.Buffer
	p.WriteHuman(&buf, Style{})
	if !strings.Contains(buf.String(), "Up to date: 21 resource/store pairs (plan --json lists them).") || strings.Contains(buf.String(), "A20") {
		t.Errorf("plan output:\n%s", buf.String())
	}
	p.Resources = p.Resources[:2]
	buf.Reset()
	p.WriteHuman(&buf, Style{})
	if !strings.Contains(buf.String(), `application.all["A1"] in store.node`) {
		t.Errorf("plan output:\n%s", buf.String())
	}
}
