// Package config reads a planb configuration: every *.hcl file of one
// directory, evaluated into a Config that the planner works from.
//
// The language is HCL with Terraform's conventions, so an operator who
// knows Terraform can read it: input variables (with types, defaults,
// sensitive values and validation rules), locals, references as HCL
// traversals (var.x, local.y, database.css, store.node, retention.std,
// each.key), the cty standard functions plus env() and file(), and
// for_each on application blocks.
//
// Load reports every problem of a configuration in one run as
// hcl.Diagnostics with a source range, never as Go errors, so the CLI can
// print them with the offending line underlined (WriteDiagnostics) or as a
// JSON document (DiagnosticsJSON). Evaluation happens in three steps:
//
//  1. variables get their values (default < PLANB_VAR_<name> < --var-file
//     < --var) and are checked against their validation rules;
//  2. locals, databases, stores and retentions are evaluated in dependency
//     order, so they may refer to each other in any order; reference cycles
//     are reported at the reference that closes the cycle;
//  3. resources (application, measurement, persistence) are expanded and
//     decoded, and checks that span resources run: unique names, a schema
//     backed up by one resource only, depends_on targets and cycles.
//
// Databases, stores and retentions are represented in expressions as
// objects carrying a hidden kind marker, so a reference of the wrong kind
// (stores = [database.css]) is reported as such.
//
// Values of sensitive variables carry a cty mark. Only database.password,
// s3.access_key, s3.secret_key and the url, headers and token of notify
// blocks may hold them (they become Secret values); a sensitive value
// anywhere else would be printed in plans and is an error. Diagnostics never
// contain sensitive values.
//
// Relative paths (store local path, delivery_folder, persistence path,
// bin_dir, command dir) are taken relative to the configuration directory,
// like file().
package config
