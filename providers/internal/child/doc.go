// Package child holds how planb starts its child processes so that they
// stay in hand, for both kinds it runs: the PostgreSQL programs
// (providers/postgres: pg_dump, pg_restore) end when planb dies
// (DieWithParent: the parent-death signal on Linux, a kill-on-close job
// object on Windows), and hook commands (providers/files) run in a Group
// of their own (a process group on Unix, a job object and console process
// group on Windows) that planb interrupts, then kills, as a whole.
//
// Each caller keeps its own way of running the process: the PostgreSQL
// programs stream an archive through stdin and stdout and are killed with
// their context; a hook is interrupted gracefully, given a grace period and
// has its output logged. What they share, the process setup, is here.
package child
