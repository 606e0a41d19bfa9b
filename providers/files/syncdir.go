package files

import (
	"fmt"
	"os"
)

// SyncDir fsyncs a folder so that entries created, renamed or removed in it
// are durable. File systems that cannot fsync folders are tolerated; on
// Windows, which has no fsync of a folder, it does nothing.
func SyncDir(dir string) error {
	if !dirSyncSupported {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !syncUnsupported(err) {
		return fmt.Errorf("fsync folder %s: %w", dir, err)
	}
	return nil
}
