package main

import (
	"context"
	"errors"

	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/facts"
)

// Exit codes, in one place; docs/COMMANDS.md lists them for users.
const (
	exitOK          = 0
	exitError       = 1
	exitChanges     = 2
	exitFmtChanges  = 3
	exitUnreadable  = 4
	exitLocked      = 11
	exitInterrupted = 130
)

// codeError carries an exit code through cobra's error return. Its message,
// when not empty, has not been printed yet.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *codeError) Unwrap() error { return e.err }

// withCode returns an error that makes planb exit with code. A nil err
// means the reason was already printed.
func withCode(code int, err error) error { return &codeError{code: code, err: err} }

// exitCode maps an error returned by a command to planb's exit code.
func exitCode(err error) int {
	var ce *codeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, new(*facts.UnlistedError)):
		// Some stores could not be listed: what was read is not the whole
		// picture.
		return exitUnreadable
	case errors.Is(err, store.ErrLocked):
		return exitLocked
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitError
	}
}
