// Package dag executes a graph of steps and knows nothing of backups.
//
// A Graph holds Steps with dependencies; Run executes it with bounded
// parallelism, skips the dependents of a failed step while independent
// branches continue, runs cleanup steps (Step.Always) regardless, and stops
// cleanly on context cancellation. A running step reports the bytes it moves
// through its Progress; what happens is delivered to Events and returned as
// a Result. A step's Group is the builder's business: the executor carries
// it without reading it.
package dag
