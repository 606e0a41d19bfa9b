// Package winjob holds what providers/internal/child needs of
// Windows job objects to keep planb's child processes in hand: a job whose
// processes end when planb dies, and the resumption of a process started
// suspended once it is in its job. It has code on Windows only.
package winjob
