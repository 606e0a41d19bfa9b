package winjob

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// New creates a job object whose processes are all terminated when its
// last handle is closed (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE): the handle
// New returns is not inherited, so that happens when the caller closes it
// or when planb dies, however it dies.
func New() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job object: %w", err)
	}
	if err := setLimits(job, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE); err != nil {
		windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// KeepOnClose lifts JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE from job, so the
// processes in it go on when its handle is closed.
func KeepOnClose(job windows.Handle) error { return setLimits(job, 0) }

func setLimits(job windows.Handle, flags uint32) error {
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = flags
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		return fmt.Errorf("set job object limits: %w", err)
	}
	return nil
}

// Assign puts process pid in job. Processes it starts afterwards are in
// the job too.
func Assign(job windows.Handle, pid uint32) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, pid)
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("assign process %d to a job object: %w", pid, err)
	}
	return nil
}

// Resume resumes the threads of process pid, which was created suspended
// (CREATE_SUSPENDED): its only thread, the main one.
func Resume(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("resume process %d: list threads: %w", pid, err)
	}
	defer windows.CloseHandle(snap)
	entry := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &entry); err == nil; err = windows.Thread32Next(snap, &entry) {
		if entry.OwnerProcessID != pid {
			continue
		}
		th, oerr := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, entry.ThreadID)
		if oerr != nil {
			return fmt.Errorf("resume process %d: open thread %d: %w", pid, entry.ThreadID, oerr)
		}
		_, rerr := windows.ResumeThread(th)
		windows.CloseHandle(th)
		if rerr != nil {
			return fmt.Errorf("resume process %d: thread %d: %w", pid, entry.ThreadID, rerr)
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return fmt.Errorf("resume process %d: list threads: %w", pid, err)
	}
	if resumed == 0 {
		return fmt.Errorf("resume process %d: it has no thread", pid)
	}
	return nil
}

var (
	selfOnce sync.Once
	selfErr  error
)

// JoinSelf puts the current process, once, in a job of its own created by
// New, and keeps the job's handle open for as long as the process lives:
// every process started afterwards is in that job, or in a job nested in
// it, and is terminated when this process ends, even when it is killed. A
// later call returns the first one's error.
func JoinSelf() error {
	selfOnce.Do(func() {
		job, err := New()
		if err != nil {
			selfErr = err
			return
		}
		if err := windows.AssignProcessToJobObject(job, windows.CurrentProcess()); err != nil {
			windows.CloseHandle(job)
			selfErr = fmt.Errorf("assign planb to a job object: %w", err)
			return
		}
		// The handle stays open on purpose: closing it would end every
		// process of the job, this one included.
	})
	return selfErr
}
