// Package planb is the root of planb, declarative backups of PostgreSQL-based
// application estates. It holds no code; this comment says what lives where,
// in the order one backup travels from HCL file to ZIP:
//
//   - plan/config reads every *.hcl file of a configuration directory into a
//     Config: variables, databases, stores, retention policies, the
//     resources (applications, measurement schemas, persistence databases),
//     the restore drills and the notify blocks.
//   - plan compares a Config with the catalog of the stores and makes a Plan:
//     per resource and store, backup, copy, prune, clean, restore or drill,
//     and why.
//     It opens no connection and starts no process; plan/retention decides
//     which archives a policy keeps.
//   - runner turns a Plan into a graph of steps (lock, prepare, dump, archive,
//     copy, prune, restore, drill, unlock) and does their work;
//     runner/dag runs a graph with bounded parallelism and knows nothing of
//     backups; runner/report shows a run to people and machines (progress,
//     JSON events, summary, DOT graph, Prometheus metrics); runner/facts
//     gathers what plans are made from (the stores' catalog and records, the
//     live state a restore replaces) and makes the plans; runner/replan
//     plans again what changed while an apply waited for its locks;
//     runner/check verifies stored archives and keeps their damage records;
//     runner/notice builds the run summary notifications carry.
//   - providers are the only code that touches the outside world:
//     providers/postgres (pgx, pg_dump, pg_restore, restoring the schemas of
//     an application in one transaction), providers/archive (the
//     ZIP format, manifests, safe extraction; providers/archive/cas stores a
//     delivery folder content-addressed in the store's packs, with its
//     index in the archive), providers/store (local
//     directories and S3-compatible buckets, locks, and the records kept beside
//     the archives: restores under way, damaged archives, drills, nodes; a
//     wrapper that encrypts a store with age, on top of providers/store/crypt;
//     providers/store/catalog names what a store holds, archives and their
//     names, without I/O, so that plan reads it without any store client),
//     providers/files
//     (hook commands, options.xml, folder swaps) and providers/notify (the
//     run summaries sent to healthchecks, webhooks and ntfy);
//     providers/internal/child starts their child processes so that
//     they stay in hand (die with planb, process groups; the Windows job
//     objects in providers/internal/winjob), providers/internal/tail
//     keeps the tail of a child's output for its error, and
//     providers/internal/ctxio stops a long copy when its context ends.
//   - cmd/planb is the command line, and only parses, calls and prints: one
//     cmd_<verb>.go per command; cmd/planb/views prints every line a command
//     shows, one view per output, human or JSON. bench measures planb
//     against the scripts it replaces; examples holds configurations that
//     double as test inputs.
package planb
