// Package runner turns a plan into the graph of steps that executes it:
// Build (build.go) makes, for each action of a plan.Plan, the steps of a
// backup (backup.go: prepare, dump, archive, release), a copy (copy.go), a
// prune or clean (prune.go), a restore (restore.go: verify, begin, schemas,
// extract, swap, finish) and a restore drill (drill.go), and puts every
// action on a resource in a store under that pair's lock (lock.go). Each
// step carries its Target (resource and store) as its dag.Step.Group.
//
// The steps' work is here too: checking what is written, committed and
// copied (commit.go, integrity.go, verify.go), incremental delivery folders
// and the collection of their packs (incremental.go, gc.go), and the
// records kept beside the archives (damage, nodes, versions, drills).
//
// Running the graph is package runner/dag's job, which knows nothing of
// backups; reporting it (progress, JSON events, summary, DOT, metrics) is
// package runner/report's. Packages runner/facts and runner/replan gather
// what plans are made from and re-plan an apply whose folders changed.
package runner
