// Package notice builds the run summary the notifications of apply and
// verify carry (providers/notify sends it): a Report collects each run of
// apply's step graph, or verify's counts and the archives it could not
// vouch for, and Summarize completes the versioned summary with the exit
// code, the result per resource, the failures and one line for people.
package notice
