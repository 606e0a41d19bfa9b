//go:build !unix

package archive

import "errors"

func mkfifo(string) error { return errors.New("no fifos on this platform") }
