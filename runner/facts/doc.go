// Package facts gathers what plans are made from, reading the stores, the
// databases and the folders of an estate through providers, and makes the
// plans with package plan (Estate.BackupPlan, Estate.RestorePlan, and the
// freshness checks of saved plans): the catalog of archives (and which
// stores could not be reached), the damage, nodes, versions and drill
// records kept beside the archives, and for a restore the archive's
// contents, the schemas and folders it would replace and the leftovers of
// restores that did not finish. It also lists the archives `planb list`
// and `planb verify` show (Estate.Archives), classified by plan.ListStatus
// and their manifests, and the last drill of each drilled resource.
//
// The command line calls it and prints what it returns; it prints nothing.
package facts
