package views

import (
	"fmt"
	"io"
	"os"
)

// View is what every command's view writes to.
type View struct {
	Stdout, Stderr io.Writer
	// NoColor turns colours off even on a terminal.
	NoColor bool
}

// Kind chooses between a view's implementations.
type Kind int

// View kinds.
const (
	Human Kind = iota
	JSON
)

// KindOf returns JSON when asJSON is set, else Human.
func KindOf(asJSON bool) Kind {
	if asJSON {
		return JSON
	}
	return Human
}

const (
	colorRed = "31"
)

// ColorStdout reports whether standard output takes colours: a terminal,
// with colours not turned off.
func (v *View) ColorStdout() bool { return !v.NoColor && IsTerminal(v.Stdout) }

// ColorStderr reports whether standard error takes colours.
func (v *View) ColorStderr() bool { return !v.NoColor && IsTerminal(v.Stderr) }

// paint wraps s in an ANSI colour unless standard error takes none.
func (v *View) paint(s, color string) string {
	if !v.ColorStderr() {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

// Error prints the error a command ended with, on standard error.
func (v *View) Error(msg string) {
	fmt.Fprintf(v.Stderr, "%s %s\n", v.paint("Error:", colorRed), msg)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
