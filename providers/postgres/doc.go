// Package postgres is planb's only door to PostgreSQL servers: it connects
// with pgx for everything that is a query (discovery, sizes, version checks,
// exported snapshots, restore preparation, schema descriptions for
// verification) and runs pg_dump and pg_restore for the data itself.
//
// Dumps are custom-format archives written uncompressed (-Z0), so the
// archive layer compresses once; they are restorable with a plain
// pg_restore. All schemas of one application are dumped from one exported
// snapshot (ExportSnapshot, then Dump with DumpOptions.Snapshot), so they are
// consistent with each other even while the application writes. pg_dump
// and pg_restore end when planb dies, however it dies, on Linux and Windows
// (providers/internal/child), so none goes on writing unwatched.
//
// Secrets: a ConnConfig's Password reaches the server through pgx's
// connection config and child processes through PGPASSWORD in their
// environment; it is never put in argv, never logged (ConnConfig formats and
// logs without it) and scrubbed from every error this package returns.
//
// The package takes plain Go values (ConnConfig, DumpOptions, …) and knows
// nothing about planb's configuration language or plans.
package postgres
