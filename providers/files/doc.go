// Package files is planb's access to the local machine outside PostgreSQL
// and the stores: running hook commands with their whole process group under
// control, rendering an application's version options as XML, swapping a
// restored folder into place (and finding what interrupted restores left
// beside it) and measuring folder trees for restore plans. pg_dump and
// pg_restore are run by providers/postgres.
//
// It takes plain Go values and knows nothing of configuration or plans.
package files
