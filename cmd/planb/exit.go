package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/planb-backup/planb/providers/store"
)

// Exit codes, in one place (SPEC §3).
const (
	exitOK          = 0
	exitError       = 1
	exitChanges     = 2
	exitFmtChanges  = 3
	exitLocked      = 11
	exitInterrupted = 130
)

// exitError carries an exit code through cobra's error return. Its message,
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

// errReported is returned when the details were printed already (diagnostics,
// a summary) and only the exit code is left to give.
var errReported = errors.New("")

// exitCode maps an error returned by a command to planb's exit code.
func exitCode(err error) int {
	var ce *codeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, store.ErrLocked):
		return exitLocked
	case errors.Is(err, context.Canceled), errors.Is(err, errInterrupted):
		return exitInterrupted
	default:
		return exitError
	}
}

var errInterrupted = errors.New("interrupted")

// notAvailable is the answer of commands that this build does not provide.
func notAvailable(what string) error {
	return fmt.Errorf("%s is not available yet in this version of planb", what)
}
