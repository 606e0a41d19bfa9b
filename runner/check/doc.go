// Package check verifies stored archives for `planb verify`: each archive
// of a listing (runner/facts) is read through and checked as a restore
// would check it (with --deep, test-restored too), judged ok, damaged,
// unreadable, unchecked, without key or not tried, and the damage records
// of its folder are kept up to date: a damaged archive is recorded, one
// that verifies loses its mark. It prints nothing: each verdict goes to a
// callback.
package check
