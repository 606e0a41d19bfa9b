package dag

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestKnowsNothingOfBackups keeps the executor generic: no file of the
// package imports another package of planb (plan, providers, runner).
func TestKnowsNothingOfBackups(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/planb-backup/planb") {
				t.Errorf("%s imports %s", e.Name(), path)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("checked %d files, expected the package's sources", checked)
	}
}
