// Package runner executes a graph of steps: the dump, copy, archive and prune
// work of `planb apply`, although this part of the package knows nothing of
// backups.
//
// A Graph holds Steps with dependencies; Run executes it with bounded
// parallelism, skips the dependents of a failed step while independent
// branches continue, runs cleanup steps (Step.Always) regardless, and stops
// cleanly on context cancellation. What happens is reported to Events — a
// human implementation with progress bars (NewTerminalEvents) and a JSON lines
// implementation (NewJSONEvents) — and summarised by Result.WriteSummary.
// WriteMetrics exports the outcome for the Prometheus node_exporter textfile
// collector.
package runner
