// Package notify tells people how a run of planb went: it sends the
// versioned Summary of an apply or verify to healthchecks.io checks, to
// webhooks and to ntfy topics.
//
// A notification must never fail or hold up a backup. Every target gets a
// goroutine of its own that sends its notifications in order (a
// healthchecks start ping before the end ping); each request has a
// timeout and is retried a few times with a short backoff; Close waits for
// what is still on its way at most a bounded time, then gives up. A
// notification that could not be delivered is logged as a warning naming
// the target and, unless the URL is sensitive, its host — never the URL's
// path or query, a header value or a token, which are credentials.
//
// Like every provider, the package takes plain values (Target), never
// configuration types.
package notify
