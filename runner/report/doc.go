// Package report turns what runner builds and runs into output for people
// and machines: the events of a run as it happens (NewTerminalEvents with
// progress bars, NewJSONEvents as JSON lines), the end-of-run summary
// (WriteSummary), the step graph in Graphviz DOT (WriteDOT) and the
// Prometheus textfile metrics of backups and drills (BackupMetrics,
// DrillMetrics, WriteMetricsWithDrills). It reads steps' resources and
// stores through runner.TargetOf; it runs nothing.
package report
