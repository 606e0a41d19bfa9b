package archive

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strconv"
	"time"
)

// ManifestName is the name of the manifest entry. The writer appends it last, just before the
// central directory, so an archive whose manifest is present was written to the end.
const ManifestName = "manifest.json"

// FormatVersion is the manifest format this package writes. Fields are only ever added.
const FormatVersion = 1

// FormatVersionPacks is the manifest format of an archive that keeps a
// folder in the store's packs (TreeInfo.Index): the archive alone does not
// hold that folder's files.
const FormatVersionPacks = 2

// Manifest describes one backup. It is stored as manifest.json inside the archive.
type Manifest struct {
	FormatVersion   int           `json:"format_version"`
	Resource        string        `json:"resource"` // address, e.g. application.MAINFRAME
	Kind            string        `json:"kind"`     // application | measurement | persistence
	Name            string        `json:"name"`
	CreatedAt       time.Time     `json:"created_at"`
	PlanbVersion    string        `json:"planb_version"`
	Node            string        `json:"node,omitempty"` // the planb node that made it (planb { node }); empty in older archives
	DurationSeconds float64       `json:"duration_seconds"`
	Postgres        *PostgresInfo `json:"postgres,omitempty"`
	Schemas         []SchemaInfo  `json:"schemas,omitempty"`
	Delivery        *TreeInfo     `json:"delivery,omitempty"`
	Files           *TreeInfo     `json:"files,omitempty"` // file-based persistence
	Options         string        `json:"options_entry,omitempty"`
	// Safety marks a safety backup: the state a restore replaced, taken
	// just before it (its name ends in .safety.zip).
	Safety bool `json:"safety,omitempty"`
	// Entries is filled in by Writer.Close: every entry of the archive except the manifest
	// itself, sorted by name.
	Entries []Entry `json:"entries"`
}

// PostgresInfo records the server and tools a dump was taken with.
type PostgresInfo struct {
	ServerVersion string `json:"server_version"`
	PgDumpVersion string `json:"pg_dump_version"`
	Snapshot      string `json:"snapshot,omitempty"`
	Database      string `json:"database"`
	Host          string `json:"host,omitempty"`
}

// SchemaInfo describes one dumped schema.
type SchemaInfo struct {
	Role        string `json:"role,omitempty"` // management | dashboard | analysis | measurement
	Name        string `json:"name"`
	Entry       string `json:"entry"` // archive entry, e.g. schemas/mainframe_local.cssbackup
	Tables      int    `json:"tables"`
	RowEstimate int64  `json:"row_estimate"`
	// Unanalyzed counts the tables without an estimate (never analyzed):
	// their rows are unknown, not 0.
	Unanalyzed int   `json:"unanalyzed,omitempty"`
	Bytes      int64 `json:"bytes"` // on-disk size reported by the server
	// TableList names every table of the schema with its row estimate, so
	// a test restore can be compared with what was dumped.
	TableList []TableInfo `json:"table_list,omitempty"`
	// Dependents are the objects outside the schema that depended on it at
	// backup time (in the application's other schemas or elsewhere): what
	// replacing it alone would drop. References are the objects outside it
	// that it depended on. Both as PostgreSQL describes them ("view
	// reports.v", "type shop_central.grade").
	Dependents []Dependency `json:"dependents,omitempty"`
	References []Dependency `json:"references,omitempty"`
}

// Dependency is an object on the other side of a schema's boundary.
type Dependency struct {
	Schema string `json:"schema,omitempty"`
	Object string `json:"object"`
}

// TableInfo is one table of a dumped schema.
type TableInfo struct {
	Name        string `json:"name"`
	RowEstimate int64  `json:"row_estimate"` // -1: unknown (never analyzed)
}

// TreeInfo describes a directory tree stored under Prefix.
type TreeInfo struct {
	Source   string `json:"source"` // the directory that was archived
	Prefix   string `json:"prefix"` // entry name prefix, e.g. delivery/
	Files    int    `json:"files"`
	Dirs     int    `json:"dirs"`
	Symlinks int    `json:"symlinks,omitempty"`
	Bytes    int64  `json:"bytes"`
	// Skipped lists what was left out because an archive cannot hold it faithfully.
	Skipped []SkippedFile `json:"skipped,omitempty"`
	// Versions are the top-level folders of a delivery folder (its
	// delivered versions) when the backup began; empty in archives of
	// older planb versions and in adopted ones.
	Versions []string `json:"versions,omitempty"`
	// Index, when set, is the entry holding the index of a folder kept in
	// the store's packs (an incremental backup): the archive has no
	// entries under Prefix then. Packs lists the packs the index
	// references; Reused counts the files not read because the previous
	// backup's index said they did not change, Stored the compressed bytes
	// this backup added to packs.
	Index  string   `json:"index,omitempty"`
	Packs  []string `json:"packs,omitempty"`
	Reused int      `json:"reused_files,omitempty"`
	Stored int64    `json:"stored_bytes,omitempty"`
}

// SkippedFile is a file of a tree that was left out of the archive, and why: a socket, a
// fifo, a device, or a name that is not valid UTF-8 or that readers refuse.
type SkippedFile struct {
	// Path is relative to the tree's root; a path that is not valid UTF-8 is written as a
	// quoted Go string, whose \x escapes name the bytes that are not.
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Entry is one archive entry as recorded in the manifest.
type Entry struct {
	Name string
	// Mode holds the type bits (fs.ModeDir, fs.ModeSymlink) and the permission bits.
	Mode fs.FileMode
	// Size is the uncompressed size; for a symlink the length of its target.
	Size           int64
	CompressedSize int64
	Method         uint16 // zip.Store or zip.Deflate
	// SHA256 is the hex SHA-256 of the uncompressed content; empty for directories.
	SHA256 string
	MTime  time.Time
	// CRC32 is the entry's ZIP checksum; it is not part of the manifest's JSON.
	CRC32 uint32
}

type entryJSON struct {
	Name           string    `json:"name"`
	Type           string    `json:"type"` // file | dir | symlink
	Mode           string    `json:"mode"` // octal permission bits, e.g. "0755"
	Size           int64     `json:"size"`
	CompressedSize int64     `json:"compressed_size"`
	Method         string    `json:"method"` // deflate | store
	SHA256         string    `json:"sha256,omitempty"`
	MTime          time.Time `json:"mtime"`
}

// MarshalJSON writes the entry with its type and octal mode spelled out for readers that are
// not Go programs.
func (e Entry) MarshalJSON() ([]byte, error) {
	return json.Marshal(entryJSON{
		Name:           e.Name,
		Type:           typeName(e.Mode),
		Mode:           FormatMode(e.Mode),
		Size:           e.Size,
		CompressedSize: e.CompressedSize,
		Method:         methodName(e.Method),
		SHA256:         e.SHA256,
		MTime:          e.MTime,
	})
}

// UnmarshalJSON is the inverse of MarshalJSON. CRC32 is not part of the manifest.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	mode, err := ParseMode(j.Type, j.Mode)
	if err != nil {
		return fmt.Errorf("entry %q: %w", j.Name, err)
	}
	var method uint16
	switch j.Method {
	case "store", "":
		method = methodStore
	case "deflate":
		method = methodDeflate
	default:
		return fmt.Errorf("entry %q: unknown method %q", j.Name, j.Method)
	}
	*e = Entry{Name: j.Name, Mode: mode, Size: j.Size, CompressedSize: j.CompressedSize,
		Method: method, SHA256: j.SHA256, MTime: j.MTime}
	return nil
}

const (
	methodStore   uint16 = 0
	methodDeflate uint16 = 8
)

func methodName(m uint16) string {
	switch m {
	case methodStore:
		return "store"
	case methodDeflate:
		return "deflate"
	}
	return strconv.Itoa(int(m))
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "other"
}

// FormatMode writes the Unix permission bits of m, setuid, setgid and
// sticky included, as four octal digits ("0755").
func FormatMode(m fs.FileMode) string {
	return fmt.Sprintf("%04o", uint32(m.Perm())|specialBits(m))
}

// specialBits returns the Unix setuid, setgid and sticky bits of m.
func specialBits(m fs.FileMode) uint32 {
	var u uint32
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// ParseMode returns the fs.FileMode of an entry of type typ ("file",
// "dir" or "symlink") whose Unix permission bits, setuid, setgid and
// sticky included, are the octal string octal (as FormatMode writes them).
func ParseMode(typ, octal string) (fs.FileMode, error) {
	u, err := strconv.ParseUint(octal, 8, 32)
	if err != nil || u > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q", octal)
	}
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch typ {
	case "file":
	case "dir":
		m |= fs.ModeDir
	case "symlink":
		m |= fs.ModeSymlink
	default:
		return 0, fmt.Errorf("invalid type %q", typ)
	}
	return m, nil
}
