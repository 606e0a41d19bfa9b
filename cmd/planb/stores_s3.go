package main

import (
	"fmt"
	"log/slog"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
)

// openS3 opens an S3-compatible store. Credentials come from the
// configuration (access_key and secret_key, both or neither), else from
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else from
// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials, profile AWS_PROFILE); without any, the store's
// operations fail saying where they were looked for. insecure = true
// selects plain HTTP; connect_timeout, response_timeout and idle_timeout
// bound the requests. No request is made here.
func openS3(name string, s *config.S3Store, logger *slog.Logger) (store.Store, error) {
	for _, k := range []struct {
		secret config.Secret
		what   string
	}{{s.AccessKey, "access_key"}, {s.SecretKey, "secret_key"}} {
		if k.secret.Missing() != "" {
			return nil, k.secret.MissingError(fmt.Sprintf("the %s of store.%s", k.what, name))
		}
	}
	if s.AccessKey.IsZero() != s.SecretKey.IsZero() {
		return nil, fmt.Errorf("s3 store %q: set both access_key and secret_key, or neither (to use the AWS environment variables or shared credentials file)", name)
	}
	return store.NewS3(name, store.S3Options{
		Endpoint:  s.Endpoint,
		Bucket:    s.Bucket,
		Prefix:    s.Prefix,
		Region:    s.Region,
		Insecure:  s.Insecure,
		AccessKey: s.AccessKey.Reveal(),
		SecretKey: s.SecretKey.Reveal(),
		Logger:    logger,

		ConnectTimeout:  s.ConnectTimeout,
		ResponseTimeout: s.ResponseTimeout,
		IdleTimeout:     s.IdleTimeout,
	})
}
