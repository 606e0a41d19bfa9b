package main

import (
	"errors"
	"log/slog"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
)

// openS3 opens an S3-compatible store.
func openS3(name string, s *config.S3Store, logger *slog.Logger) (store.Store, error) {
	return nil, errors.New("s3 stores are not available yet in this version of planb")
}
