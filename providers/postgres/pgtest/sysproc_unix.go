//go:build unix

package pgtest

import "syscall"

func newSessionAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
