package store

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/minio/minio-go/v7"
)

// fail wraps an error of operation op with the store's name, translating
// the S3 errors operators meet (missing bucket or object, refused
// credentials, refused permissions, an endpoint that does not answer, no
// credentials at all) into messages that say what to fix. A missing object
// matches fs.ErrNotExist.
func (s *S3) fail(op string, err error) error {
	return s.failOn(op, "", "", err)
}

// s3Permissions names the permission each S3 request needs, for messages
// about refused requests.
var s3Permissions = map[string]string{
	"ListObjects":             "s3:ListBucket",
	"ListMultipartUploads":    "s3:ListBucketMultipartUploads",
	"HeadObject":              "s3:GetObject",
	"GetObject":               "s3:GetObject",
	"PutObject":               "s3:PutObject",
	"CreateMultipartUpload":   "s3:PutObject",
	"UploadPart":              "s3:PutObject",
	"CompleteMultipartUpload": "s3:PutObject",
	"CopyObject":              "s3:PutObject here and s3:GetObject on the source",
	"AbortMultipartUpload":    "s3:AbortMultipartUpload",
	"DeleteObject":            "s3:DeleteObject",
}

// failOn is fail for an error of the S3 request named request (a key of
// s3Permissions, or "" when unknown) for the object key ("" for requests
// on the bucket).
func (s *S3) failOn(op, request, key string, err error) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		return fmt.Errorf("store %q: %s: %w", s.name, op, te)
	}
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return fmt.Errorf("store %q: %s: %w", s.name, op, ue)
	}
	var nc *NoCredentialsError
	if errors.As(err, &nc) {
		return fmt.Errorf("store %q: %s: %w", s.name, op, nc)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return fmt.Errorf("store %q: %s: bucket %q does not exist at %s", s.name, op, s.bucket, s.url)
	case "NoSuchKey", "NoSuchUpload":
		return fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrNotExist)
	case "AccessDenied":
		return fmt.Errorf("store %q: %s: %w", s.name, op, s.denied(request, key, resp))
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
		"XAdminUserNotFound": // versitygw's answer to an unknown access key
		return fmt.Errorf("store %q: %s: %s refused the credentials (%s: %s); check the access key and secret key",
			s.name, op, s.url, resp.Code, resp.Message)
	}
	if resp.Code == "" && resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrNotExist)
	}
	return fmt.Errorf("store %q: %s: %w", s.name, op, err)
}

// AccessDeniedError is the error of a request the server refused although
// it accepted the credentials: the bucket policy or the key's permissions
// do not allow it.
type AccessDeniedError struct {
	Endpoint string
	// Request is the S3 request ("CreateMultipartUpload"), Permission the
	// permission it needs; both empty when unknown.
	Request, Permission string
	// Object is "bucket/key" (or the bucket) the request was for.
	Object string
	// AccessKey is the access key the request was signed with.
	AccessKey string
	// Accepted is set when other requests with the same credentials
	// succeeded.
	Accepted bool
	Message  string
}

func (e *AccessDeniedError) Error() string {
	what := "this request"
	if e.Request != "" {
		what = e.Request
	}
	s := fmt.Sprintf("access denied: %s refused %s on %s", e.Endpoint, what, e.Object)
	if e.Accepted {
		s += fmt.Sprintf("; the credentials (access key %s) were accepted for other requests", e.AccessKey)
	} else {
		s += fmt.Sprintf("; the server accepted the credentials (access key %s) but not this request", e.AccessKey)
	}
	if e.Permission != "" {
		s += ", so the bucket policy or the key's permissions must allow " + e.Permission
	} else {
		s += ", so the bucket policy or the key's permissions do not allow it"
	}
	if e.Message != "" {
		s += " (AccessDenied: " + e.Message + ")"
	}
	return s
}

// denied describes a refused request.
func (s *S3) denied(request, key string, resp minio.ErrorResponse) *AccessDeniedError {
	object := s.bucket
	if key == "" {
		key = resp.Key
	}
	if key != "" {
		object += "/" + key
	}
	e := &AccessDeniedError{
		Endpoint: s.url, Request: request, Permission: s3Permissions[request], Object: object,
		Accepted: s.accepted.Load(), Message: resp.Message,
	}
	if v, err := s.creds.Get(); err == nil {
		e.AccessKey = v.AccessKeyID
	}
	return e
}

// isPreconditionFailed reports whether a conditional request was refused.
func isPreconditionFailed(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed"
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey" || (resp.Code == "" && resp.StatusCode == http.StatusNotFound)
}
