//go:build unix && !darwin

package main

import (
	"os"
	"syscall"
)

// peakRSS is the largest resident set, in bytes, of the process ps
// describes and of its waited-for descendants: ru_maxrss, which these
// systems count in KiB.
func peakRSS(ps *os.ProcessState) int64 { return ps.SysUsage().(*syscall.Rusage).Maxrss << 10 }
