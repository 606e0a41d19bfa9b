package plan

import "testing"

func TestRowsText(t *testing.T) {
	for _, c := range []struct {
		s    SchemaState
		want string
	}{
		{SchemaState{Tables: 3, RowEstimate: 1200}, "~1200 rows"},
		{SchemaState{Tables: 3, Unanalyzed: 3}, "rows unknown"},
		{SchemaState{Tables: 3, RowEstimate: 1200, Unanalyzed: 2}, "~1200 rows (2 tables never analyzed)"},
	} {
		if got := rowsText(c.s); got != c.want {
			t.Errorf("rowsText(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}
