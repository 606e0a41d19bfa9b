//go:build !linux && !windows

package store

import "errors"

// Without Linux's /proc, nothing about a lock's holder can be proven: the
// boot, the PID namespace and start times are unknown, so locks are taken
// over only once their deadline has passed.

func readBootID() string { return "" }

func readPIDNamespace() string { return "" }

func readStartTime(pid int) (uint64, error) {
	return 0, errors.New("process start times are not known on this system")
}

func probeProcess(pid int) (exists bool, start uint64, err error) {
	return false, 0, errors.New("processes cannot be probed on this system")
}
