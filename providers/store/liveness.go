package store

import (
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"
)

// processRunID identifies this planb run (this process) in lock records
// and in the records of the partial archives it writes.
var processRunID = rand.Text()

// processIDs are the facts about this process that /proc gives, read once.
var processIDs = sync.OnceValue(func() (ids struct {
	bootID, pidNS string
	start         uint64
}) {
	ids.bootID = readBootID()
	ids.pidNS = readPIDNamespace()
	if ids.pidNS != "" {
		ids.start, _ = readStartTime(os.Getpid())
	}
	return ids
})

// identity is what a store records about this process in lock records and
// partial records, and how it checks on the processes other records name.
type identity struct {
	host, owner string
	runID       string
	bootID      string
	pidNS       string
	pid         int
	start       uint64
	// probe says whether process pid of this PID namespace exists and
	// when it started (probeProcess; tests replace it).
	probe func(pid int) (exists bool, start uint64, err error)
}

// newIdentity returns the identity of this process on host, run by user
// owner.
func newIdentity(host, owner string) identity {
	ids := processIDs()
	return identity{
		host: host, owner: owner, runID: processRunID,
		bootID: ids.bootID, pidNS: ids.pidNS, pid: os.Getpid(), start: ids.start,
		probe: probeProcess,
	}
}

// record returns what a record written at t says about this process: a
// lock record without token and deadline, or the writer of a partial.
func (id identity) record(t time.Time) LockInfo {
	return LockInfo{
		Owner: id.owner, Host: id.host, PID: id.pid, Time: t.UTC(),
		RunID: id.runID, BootID: id.bootID, PIDNamespace: id.pidNS, Start: id.start,
	}
}

// sameNamespace reports whether holder recorded this host, this boot and
// this PID namespace, so that its pid means the same process here.
func (id identity) sameNamespace(holder LockInfo) bool {
	return holder.Host == id.host &&
		id.bootID != "" && holder.BootID == id.bootID &&
		id.pidNS != "" && holder.PIDNamespace == id.pidNS
}

// isSelf reports whether holder is this process.
func (id identity) isSelf(holder LockInfo) bool {
	return (holder.RunID != "" && holder.RunID == id.runID) ||
		(id.sameNamespace(holder) && holder.PID == id.pid)
}

// gone decides whether the process a record names is proven gone: it
// recorded this host, boot and PID namespace, and its pid either names no
// process or names one with another start time (the pid was reused). why
// says what proves it; when not gone, why says what keeps it from being
// proven ("" when the process is alive).
//
// Nothing else proves anything: on another host, another boot or another
// PID namespace (a container on this host), the same pid is another
// process or none; a record without boot and namespace (written by an
// older planb, or on a system other than Linux and Windows) or a process
// that cannot be probed proves nothing either.
func (id identity) gone(holder LockInfo) (gone bool, why string) {
	if id.isSelf(holder) {
		return false, ""
	}
	switch {
	case holder.Host != id.host:
		return false, "held on another host, whose processes cannot be checked from here"
	case holder.BootID == "" || holder.PIDNamespace == "":
		return false, "its record does not name the holder's boot and PID namespace (an older planb, or a system other than Linux and Windows), so its process cannot be checked"
	case id.bootID == "" || id.pidNS == "" || id.probe == nil:
		return false, "processes cannot be checked from this process (no /proc of its own PID namespace)"
	case holder.BootID != id.bootID:
		return false, "held under another boot of this host name (or by another machine of the same name)"
	case holder.PIDNamespace != id.pidNS:
		return false, fmt.Sprintf("held from another PID namespace of this host (%s, a container; this process is in %s), whose processes cannot be checked from here",
			holder.PIDNamespace, id.pidNS)
	}
	exists, start, err := id.probe(holder.PID)
	switch {
	case err != nil:
		return false, fmt.Sprintf("its process cannot be checked: %v", err)
	case !exists:
		return true, "its process no longer exists"
	case holder.Start != 0 && start != 0 && start != holder.Start:
		return true, fmt.Sprintf("its pid %d now belongs to another process (started at %d, the holder at %d)", holder.PID, start, holder.Start)
	}
	return false, ""
}

// judge decides whether a lock whose record is holder may be taken over
// at now (on the clock of lock records): when its deadline has passed, or
// when its holder is proven gone (see gone). why says why it may be taken
// over, or, when it may not, why the holder's liveness is undecided here
// ("" when the holder is alive), for the error that names the holder.
func (id identity) judge(holder LockInfo, now time.Time) (takeOver bool, why string) {
	if !holder.Expires.IsZero() && now.After(holder.Expires) {
		return true, fmt.Sprintf("its deadline %s passed: its holder stopped renewing it", holder.Expires.UTC().Format(time.RFC3339))
	}
	return id.gone(holder)
}
