package store

import (
	"testing"
	"time"
)

func TestLockedErrorString(t *testing.T) {
	i := LockInfo{Owner: "root", Host: "h", PID: 123, Time: time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)}
	err := &LockedError{Store: "node", Ref: Ref{Kind: KindApplications, Name: "X"}, Holder: i}
	want := `lock applications/X in store "node": locked by pid 123 on host h since 2026-11-25T20:30:00Z (user root)`
	if err.Error() != want {
		t.Errorf("Error = %q, want %q", err.Error(), want)
	}
}
