//go:build !unix

package s3test

import "os/exec"

// ownGroup does nothing: the server starts no processes of its own.
func ownGroup(cmd *exec.Cmd) {}

// killGroup kills the command's process.
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
