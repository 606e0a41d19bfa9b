//go:build !unix

package main

import "os"

// peakRSS is 0: the process state carries no peak resident set here.
func peakRSS(*os.ProcessState) int64 { return 0 }
