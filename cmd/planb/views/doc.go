// Package views prints what planb's commands have to say: one view per
// command output, with a human and (where the command has --json) a JSON
// implementation behind one interface, as Terraform's views. Commands
// decide and call; every user-facing line they print is written here, and
// tested here.
//
// View holds the streams and colour settings every view shares, and prints
// what needs no choice of kind (the error a command ended with, the
// configuration's diagnostics, the version line, the step graph as DOT);
// NewPlan (plan and show), NewApply, NewList, NewVerify, NewValidate and
// NewFmt make the view of one command.
package views
