// Package runner turns a plan into the graph of steps that executes it:
// Build (build.go) makes, for each action of a plan.Plan, the steps of a
// backup (backup.go: prepare, dump, archive, release), a copy (copy.go), a
// prune or clean (prune.go), a restore (restore.go: verify, begin, finish;
// restore_db.go: schemas and databases; restore_folders.go: extract and
// swap) and a restore drill (drill.go), and puts every action on a
// resource in a store under that pair's lock (lock.go). Each step carries
// its Target (resource and store) as its dag.Step.Group.
//
// The steps' work is here too: checking what is written, committed and
// copied (commit.go, integrity.go, verify.go), incremental delivery folders
// and the collection of their packs (incremental.go, gc.go, repack.go,
// packsrecord.go), and the records kept beside the archives (damage,
// nodes, versions, drills, packs).
//
// Running the graph is package runner/dag's job, which knows nothing of
// backups; reporting it (progress, JSON events, summary, DOT, metrics) is
// package runner/report's. Package runner/facts gathers what plans are made
// from, runner/replan plans again an apply whose folders changed while it
// waited for its locks, and runner/check verifies stored archives for
// `planb verify`.
package runner
