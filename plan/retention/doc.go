// Package retention decides which backups a retention policy keeps.
//
// It is pure: Apply takes the times of a resource's complete backups in one
// store and the current time, and returns a decision per backup. The planner
// turns the removed ones into prune steps; nothing here reads a store or the
// clock. The rules follow restic's "forget" and borg's "prune" (bucketed
// keep-hourly/daily/weekly/monthly/yearly, keep-last, keep-within), plus the
// original CAST system's "delete backups older than N days" as MaxAge, and
// one guarantee of planb's own: the newest backup is never removed.
package retention
