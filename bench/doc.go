// Package bench measures planb side by side with the tools operators would
// otherwise use: a script of pg_dump and zip (what CAST AIP Console does),
// borgmatic, and the raw floor of reading the same data with nothing else
// done to it.
//
// The package holds what the measuring command (bench/cmd/estatebench) and
// its tests share: the generator of a seeded CAST-like estate (Size, SeedSQL,
// WriteDelivery; WriteVersions and NextVersion for delivery folders whose
// versions derive from one another, as in the day-two scenario), and the
// statistics of repeated runs (Sample, Median, Ratio). It starts no processes and opens no connections; the command does.
// Nothing here is run by `go test` beyond small unit tests: the heavy work is
// behind the command.
package bench
