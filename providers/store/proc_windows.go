package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// What a lock record says of its holder on Windows, and how its liveness
// is checked:
//
//   - The boot is the time Windows booted, in 100 ns units since 1601
//     (NtQuerySystemInformation). A step of the system clock moves it: the
//     holders of the records written before then are no longer recognised
//     as of this boot, and their locks lapse by their deadlines.
//   - Windows has one process ID space per machine, which the "PID
//     namespace" names "windows". In a Windows container, whose processes
//     cannot see the host's, it is left empty: nothing is proven there.
//   - A process's start time is its creation time, in 100 ns units since
//     1601: a pid reused by a new process has another one.
//   - OpenProcess tells whether a process exists; its exit code tells
//     whether it still runs (a process that exited lingers while someone
//     holds a handle to it).

// stillActive is the exit code GetExitCodeProcess gives for a process that
// has not exited (STILL_ACTIVE).
const stillActive = 259

// windowsPIDNamespace names the process ID space of a Windows machine.
const windowsPIDNamespace = "windows"

func readBootID() string {
	// SYSTEM_TIMEOFDAY_INFORMATION: BootTime, CurrentTime, TimeZoneBias
	// (8 bytes each), TimeZoneId, Reserved (4 each), BootTimeBias,
	// SleepTimeBias (8 each).
	var info [48]byte
	var n uint32
	if err := windows.NtQuerySystemInformation(windows.SystemTimeOfDayInformation, unsafe.Pointer(&info[0]), uint32(len(info)), &n); err != nil || n < 8 {
		return ""
	}
	boot := binary.LittleEndian.Uint64(info[:8])
	if boot == 0 {
		return ""
	}
	return "windows-boot:" + strconv.FormatUint(boot, 10)
}

func readPIDNamespace() string {
	if inContainer() {
		return ""
	}
	return windowsPIDNamespace
}

// inContainer reports whether this process runs in a Windows container:
// its registry has a ContainerType value, or the Container Execution Agent
// service (cexecsvc) that every Windows container runs.
func inContainer() bool {
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Control`, registry.QUERY_VALUE); err == nil {
		_, _, verr := k.GetIntegerValue("ContainerType")
		k.Close()
		if verr == nil {
			return true
		}
	}
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\cexecsvc`, registry.QUERY_VALUE); err == nil {
		k.Close()
		return true
	}
	return false
}

// openProcess opens process pid for queries. There being no such process
// is an error matching fs.ErrNotExist; being denied access to it, one
// matching fs.ErrPermission.
func openProcess(pid int) (windows.Handle, error) {
	if pid <= 0 || uint64(pid) > 0xffffffff {
		return 0, fmt.Errorf("pid %d: %w", pid, fs.ErrInvalid)
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	switch {
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER):
		return 0, fmt.Errorf("pid %d: %w", pid, fs.ErrNotExist)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return 0, fmt.Errorf("pid %d: %w", pid, fs.ErrPermission)
	case err != nil:
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return h, nil
}

func creationTime(h windows.Handle) (uint64, error) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0, err
	}
	return uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime), nil
}

func readStartTime(pid int) (uint64, error) {
	h, err := openProcess(pid)
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(h)
	return creationTime(h)
}

// probeProcess tells whether process pid exists and when it was created.
// exists is false only when Windows says there is no such process, or
// that it has exited; a process this user may not open exists. start is 0
// when it cannot be read. err is set when nothing can be said.
func probeProcess(pid int) (exists bool, start uint64, err error) {
	h, err := openProcess(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, 0, nil
	case errors.Is(err, fs.ErrPermission):
		return true, 0, nil
	case err != nil:
		return false, 0, err
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != stillActive {
		return false, 0, nil
	}
	start, err = creationTime(h)
	if err != nil {
		return true, 0, nil
	}
	return true, start, nil
}
