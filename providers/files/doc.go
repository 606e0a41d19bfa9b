// Package files is planb's access to the local machine outside PostgreSQL
// and the stores: running external commands (pg_dump, pg_restore, hooks)
// with their whole process group under control, rendering an application's
// version options as XML, swapping a restored folder into place and
// measuring folder trees for restore plans.
//
// It takes plain Go values and knows nothing of configuration or plans.
package files
