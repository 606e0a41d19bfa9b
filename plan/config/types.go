package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/planb-backup/planb/plan/retention"
)

// Config is a fully evaluated configuration: every reference resolved, every
// for_each expanded, every duration parsed. It is what the planner works
// from; nothing in it refers back to HCL expressions.
type Config struct {
	// Dir is the configuration directory the files were read from.
	Dir string
	// Files holds the parsed files by name, for printing diagnostics with
	// source snippets.
	Files map[string]*hcl.File
	// Parallelism is planb { parallelism }; 0 when not set.
	Parallelism int
	// Node names this planb node: planb { node }, else the host name. Each
	// archive records the node that wrote it, and a node leaves the
	// archives of other nodes alone unless they are among the owners of
	// the resource (see OwnersOf). Empty only when offline validation
	// could not know it (a variable without a value).
	Node string
	// NodeFromHost is set when Node is the host name (planb { node } is
	// not set).
	NodeFromHost bool
	Variables    []*Variable
	Databases    map[string]*Database
	Stores       map[string]*Store
	Retentions   map[string]*Retention
	// Resources are the applications, measurement schemas and persistence
	// databases, sorted by Address.
	Resources []*Resource
	// Drills are the restore drills, sorted by name.
	Drills []*Drill
	// Notifiers are the notify blocks, sorted by name.
	Notifiers []*Notifier
	// Digest identifies the configuration: a SHA-256 over the file names and
	// contents and the non-sensitive variable values. Saved plans record it.
	Digest string
}

// Resource returns the resource with the given address, or nil.
func (c *Config) Resource(addr string) *Resource {
	for _, r := range c.Resources {
		if r.Address == addr {
			return r
		}
	}
	return nil
}

// Variable is a declared input variable with its resolved value.
type Variable struct {
	Name        string
	Description string
	Sensitive   bool
	// Set reports whether a value came from --var, --var-file, the
	// environment or a default.
	Set       bool
	DeclRange hcl.Range
}

// Secret holds a value that must never be printed. Its String, GoString and
// MarshalJSON methods hide the value; Reveal is the only way to read it, and
// is called only where the value goes to a server or a child's environment.
type Secret struct {
	value string
	// missing names the sensitive variable the value comes from when that
	// variable has no value (LoadOptions.DeferSecrets).
	missing string
}

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no value is set.
func (s Secret) IsZero() bool { return s.value == "" && s.missing == "" }

// Missing returns the name of the sensitive variable the secret comes from
// when that variable was given no value (a configuration loaded with
// DeferSecrets), "" otherwise. Commands that need the secret report it.
func (s Secret) Missing() string { return s.missing }

// MissingError is the error of a command that needs a secret whose variable
// has no value; what names the setting ("the password of database.css").
func (s Secret) MissingError(what string) error {
	return fmt.Errorf("%s comes from the sensitive variable %q, which has no value: set it with %s%s=… in the environment, --var %s=… or a --var-file",
		what, s.missing, EnvPrefix, s.missing, s.missing)
}

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "(sensitive value)"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON hides the value from encoding/json.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"(sensitive value)"`), nil }

// Database is a PostgreSQL server connection (database "name" { … }).
type Database struct {
	Name     string
	Host     string
	Port     int    // default 5432
	User     string // default "postgres"
	Password Secret
	DBName   string // default "postgres"
	SSLMode  string // default "prefer"
	// BinDir is where pg_dump and pg_restore are looked up ("" = PATH).
	BinDir    string
	DeclRange hcl.Range
}

// Store is a place where archives are kept (store "name" { local{} | s3{} }).
type Store struct {
	Name  string
	Local *LocalStore
	S3    *S3Store
	// Shared marks a store other configurations write to as well (the
	// nodes of a fleet): archives of resources this configuration does not
	// declare are theirs, not orphans.
	Shared bool
	// Owners are the nodes that share every resource backed up into this
	// store (a failover pair), unless a resource names its own; nil when
	// not set.
	Owners []string
	// Encryption encrypts the store's archives; nil when they are kept
	// plain.
	Encryption *Encryption
	// PackGrace is how old a pack no archive references must be before a
	// prune's collection deletes it (pack_grace): longer than any backup
	// or copy into the store runs.
	PackGrace time.Duration
	DeclRange hcl.Range
}

// DefaultPackGrace is a store's pack_grace when not set.
const DefaultPackGrace = 48 * time.Hour

// LocalStore is a directory on this machine.
type LocalStore struct {
	Path string
}

// S3Store is a bucket of an S3-compatible object store.
type S3Store struct {
	Endpoint  string
	Bucket    string
	Prefix    string
	Region    string
	AccessKey Secret
	SecretKey Secret
	Insecure  bool
	// ConnectTimeout, ResponseTimeout and IdleTimeout bound opening a
	// connection, waiting for a response and a pause within a transfer;
	// zero means the store's defaults.
	ConnectTimeout, ResponseTimeout, IdleTimeout time.Duration
}

// Retention says which backups are kept; a backup is kept when any rule
// keeps it. The newest complete backup is always kept. Its rules are the
// planner's retention.Policy (counts of backups or buckets, KeepWithin,
// MaxAge, as the keep_* attributes, keep_within and max_age set them; the
// loader refuses negative counts); the configuration adds its name, the
// lifetime of safety backups, which the policy does not judge, and where it
// was declared.
type Retention struct {
	Name string // "" for an inline retention block
	retention.Policy
	// SafetyBackups is how long safety backups (the state a restore
	// replaced) are kept; 0 means DefaultSafetyLifetime. They do not count
	// towards the keep_* rules.
	SafetyBackups time.Duration
	DeclRange     hcl.Range
}

// DefaultSafetyLifetime is how long safety backups are kept when no
// retention says otherwise.
const DefaultSafetyLifetime = 7 * 24 * time.Hour

// ResourceKind is the kind of thing that is backed up.
type ResourceKind string

const (
	Application ResourceKind = "application"
	Measurement ResourceKind = "measurement"
	Persistence ResourceKind = "persistence"
)

// Dir is the folder a store keeps this kind of resource under.
func (k ResourceKind) Dir() string {
	switch k {
	case Application:
		return "applications"
	case Measurement:
		return "measurement"
	default:
		return "persistence"
	}
}

// Resource is one thing that is backed up into archives of its own: an
// application, a measurement schema or a persistence database or folder.
type Resource struct {
	Kind ResourceKind
	// Address is how the resource is named on the command line and in
	// plans: application.MAINFRAME, application.all["MAINFRAME"],
	// measurement.health, persistence.node.
	Address string
	// Name is the folder in stores and the prefix of archive names
	// (<name>_YYYY-MM-DD-HH-mm-SS.zip). For applications it is the block
	// label, or each.key under for_each, unless `name` is set.
	Name string
	// Database is the server of the schemas, or the database dumped whole
	// by a persistence resource (its DBName).
	Database *Database
	// Schemas are the schemas dumped, in role order (management, dashboard,
	// analysis for applications; measurement for measurement resources).
	Schemas []Schema
	// DeliveryFolder is the application's delivered source code ("" = none).
	DeliveryFolder string
	// OnNewVersion makes the resource due when its delivery folder holds a
	// top-level folder (a version) that the newest backup did not
	// (on_new_version, default true).
	OnNewVersion bool
	// Incremental keeps the delivery folder's files in the store's packs,
	// each content once, instead of in every archive (incremental);
	// FullReadEvery makes every Nth such backup read every file, changed
	// or not (full_read_every).
	Incremental   bool
	FullReadEvery int
	// Options are the version options written as options.xml (nil = none).
	Options *Options
	// Path is the folder of a file-based persistence database (H2).
	Path string
	// Before and After run around the copy of Path; After runs even when
	// the copy fails.
	Before       []Command
	After        []Command
	AfterRestore []Hook
	Every        time.Duration
	Retention    *Retention // nil: keep everything
	Stores       []*Store
	DependsOn    []string // addresses of other resources
	// Owners are the nodes that share this resource (a failover pair):
	// each counts, prunes and cleans the archives of the others as its
	// own. Nil when not set: see Config.OwnersOf.
	Owners    []string
	DeclRange hcl.Range
}

// OwnersOf returns the nodes that own resource r in store s: the
// resource's owners, else the store's, else this node alone. Archives of
// r in s that other nodes wrote are theirs: a plan neither counts, prunes
// nor cleans them, and reports them.
func (c *Config) OwnersOf(r *Resource, s *Store) []string {
	switch {
	case r.Owners != nil:
		return r.Owners
	case s != nil && s.Owners != nil:
		return s.Owners
	}
	return []string{c.Node}
}

// Schema is one schema of a resource and the role it plays.
type Schema struct {
	Role string // management, dashboard, analysis, measurement
	Name string
}

// Options are an application's version-level options.
type Options struct {
	SourcePath        string
	ExclusionPatterns []string
	Objectives        []string
	// Extra holds any further string settings, written as <option name="k">v</option>.
	Extra map[string]string
	// File is where a restore writes options.xml ("" = not written).
	File string
}

// Command is a program with its arguments, run without a shell.
type Command struct {
	Argv    []string
	Dir     string
	Timeout time.Duration // 0 = no limit
}

// Hook is an after_restore action: SQL against a database, or a command.
type Hook struct {
	Name     string
	Database *Database // with SQL
	SQL      string
	Command  *Command
}
