package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// readBootID returns /proc/sys/kernel/random/boot_id: a random UUID the
// kernel makes at every boot, the same in every container of one kernel.
func readBootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// readPIDNamespace returns the PID namespace of this process as readlink
// gives it for /proc/self/ns/pid ("pid:[4026531836]"), or "" when /proc is
// not the one of this process's PID namespace (a container that sees the
// host's /proc): pids read from it would be another namespace's.
func readPIDNamespace() string {
	if !procIsOurs() {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil || !strings.HasPrefix(ns, "pid:[") {
		return ""
	}
	return ns
}

// procIsOurs reports whether /proc shows the processes of this process's
// PID namespace: /proc/self must be this process's pid.
func procIsOurs() bool {
	self, err := os.Readlink("/proc/self")
	return err == nil && self == strconv.Itoa(os.Getpid())
}

// readStartTime returns the start time of process pid of this PID
// namespace: field 22 of /proc/<pid>/stat, in clock ticks after boot. A pid
// reused by a new process has a later start time. There being no such
// process is an error matching fs.ErrNotExist.
func readStartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d: %w", pid, fs.ErrInvalid)
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return 0, fmt.Errorf("pid %d: %w", pid, fs.ErrNotExist)
		}
		return 0, err
	}
	return parseStartTime(data)
}

// parseStartTime reads field 22 of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may itself contain spaces and
// parentheses, so fields are counted after the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("stat: no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, errors.New("stat: too few fields")
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat: start time: %w", err)
	}
	return start, nil
}

// probeProcess tells whether process pid exists in this PID namespace and
// when it started. exists is false only when the kernel says there is no
// such process (kill(pid, 0) fails with ESRCH); a process of another user
// exists. start is 0 when it cannot be read. err is set when nothing can
// be said.
func probeProcess(pid int) (exists bool, start uint64, err error) {
	if pid <= 0 {
		return false, 0, fmt.Errorf("pid %d: %w", pid, fs.ErrInvalid)
	}
	if !procIsOurs() {
		return false, 0, errors.New("/proc is not this PID namespace's")
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false, 0, nil
	}
	start, err = readStartTime(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Gone between the two looks, or a zombie already reaped.
		if kerr := syscall.Kill(pid, 0); errors.Is(kerr, syscall.ESRCH) {
			return false, 0, nil
		}
		return true, 0, nil
	case err != nil:
		return true, 0, nil
	}
	return true, start, nil
}
