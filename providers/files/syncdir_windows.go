package files

// dirSyncSupported is false: Windows has no fsync of a folder
// (FlushFileBuffers needs a handle opened for writing, which a folder does
// not give); NTFS makes the changes to a folder's entries durable through
// its own journal.
const dirSyncSupported = false

// syncUnsupported reports whether a folder fsync failed only because the
// file system does not support it: on Windows, always.
func syncUnsupported(error) bool { return true }
