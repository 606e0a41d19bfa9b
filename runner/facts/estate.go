package facts

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
)

// Estate is a loaded configuration with its stores opened: what every
// gathering reads.
type Estate struct {
	Config *config.Config
	// Stores are the opened stores, by name.
	Stores map[string]store.Store
	// Logger receives what is skipped (a record that does not parse, a
	// delivery folder that cannot be listed); nil discards it.
	Logger *slog.Logger
	// DBLockTimeout bounds the waits of restore planning for table locks.
	DBLockTimeout time.Duration
}

// storeReaders bounds the reads of one gathering that run at once
// (records, drill records, manifests): a remote store answers each with a
// request or two.
const storeReaders = 16

// logger returns e.Logger, or one that discards.
func (e *Estate) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return e.Logger
}

// IsKeyError reports whether err is an encrypted store's refusal to open an
// archive or record without the right identity.
func IsKeyError(err error) bool {
	return errors.Is(err, store.ErrNoIdentity) || errors.Is(err, store.ErrWrongIdentity)
}
