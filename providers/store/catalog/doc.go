// Package catalog names what a store holds: the folders of resources (Ref),
// the archives in them (Archive, with Status, Safety, Partial and the
// writer of a partial, LockInfo), and the archive names that carry a
// backup's resource and time (ArchiveName, SafetyArchiveName,
// ParseArchiveName, the Partial, Safety and Encrypted suffixes), and when
// a partial leftover may be cleaned (Cleanable).
//
// It does no I/O: the planner reads a store's listing through these types
// without compiling any store client, and providers/store, which lists,
// writes and locks, re-exports its types under the same names.
package catalog
