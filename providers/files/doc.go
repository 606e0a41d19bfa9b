// Package files is planb's access to the local machine outside PostgreSQL
// and the stores: running hook commands with their whole process group
// under control (set up by providers/internal/child), rendering an
// application's version options as XML, listing a delivery folder's
// version folders, swapping a restored folder into place (and finding what
// interrupted restores left beside it), measuring folder trees for restore
// plans, Windows long paths, and the one atomic, durable way planb writes
// a file (WriteFileAtomic, SyncDir). pg_dump and pg_restore are run by
// providers/postgres.
//
// It takes plain Go values and knows nothing of configuration or plans.
package files
