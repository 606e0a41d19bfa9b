package cas

import (
	"io/fs"
	"syscall"
)

// fileID returns a file's change time (Unix nanoseconds) and inode number.
func fileID(info fs.FileInfo) (ctime int64, inode uint64) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return st.Ctim.Nano(), st.Ino
}
