package pgtest

import (
	"os"
	"testing"
)

// RequireEnv names the environment variable that makes a test environment
// complete by contract: when it is set to anything but "" or "0", a missing
// tool or fixture fails the test instead of skipping it. CI sets it, so a
// machine that lost a package cannot pass by skipping what it cannot run.
const RequireEnv = "PLANB_TEST_REQUIRE"

// Required reports whether RequireEnv is set.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0"
}

// Missing reports that something a test needs (a program, a fixture, a
// server) is absent: it skips t with the message, or fails t with the same
// message when RequireEnv is set.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" ("+RequireEnv+" is set: nothing may be missing)", args...)
	}
	t.Skipf(format, args...)
}
