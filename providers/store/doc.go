// Package store keeps archives: it is the catalog and the lock service of
// planb.
//
// planb has no state file; a store's listing is the state. Every resource has
// a folder <kind>/<name>/ in each of its stores, and each archive in that folder
// is named <name>_YYYY-MM-DD-HH-mm-SS.zip (the original CAST system's pattern),
// so List alone tells the planner which backups exist, when they were made,
// and which writes were interrupted.
//
// A Store addresses archives by object key, never by file path, so that a
// directory (Local) and an S3 bucket implement the same interface. Writes go
// through an Upload that stays invisible until Commit; a crash at any point
// leaves at most a partial object that List reports with Partial set, never
// something that looks like a complete backup, and never harms an existing
// archive (Commit refuses to overwrite).
//
// Locks are per resource per store: one apply at a time writes or prunes a
// resource's folder in a given store.
//
// Packs (packs/<ab>/<id>.pack) are shared by all the resources of a store:
// the content-addressed pack files incremental delivery folders keep their
// file contents in (see Packs and providers/archive/cas). They are not
// archives: List never returns them.
//
// Encrypted wraps any store so that what it keeps is encrypted with age
// (see providers/store/crypt): archives are stored as <name>.zip.age and
// records are sealed unless named clear, while names, times, sizes and
// locks stay readable, so that a host with only the public keys plans,
// writes, copies into the store and prunes, and only a host with a private
// key reads archives. Above the wrapper archive names are the plain ones.
//
// The names of what a store holds (Ref, Archive, archive names and their
// parsing) live in providers/store/catalog, which does no I/O; this package
// re-exports its types. Each store's code is split by concern: local.go
// (Local: listing, uploads, reads) and lock_local.go; s3.go (S3: options
// and construction), s3_errors.go, s3_objects.go (listing, deletion,
// server-side copy), s3_upload.go (multipart upload), s3_reader.go (ranged
// reads) and lock_s3.go.
//
// The errors of a store name it and what it was doing: `store "node":
// open applications/X/X_….zip: …` (constructors: `local store "node": …`,
// `s3 store "node": …`). Callers add what they were doing, never the store
// a second time.
//
// This package takes plain values (Ref, names, times), never configuration
// types.
package store
