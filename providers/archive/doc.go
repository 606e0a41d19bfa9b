// Package archive writes and reads planb's backup archives: one ZIP file per backup.
//
// An archive holds
//
//	manifest.json              what the archive contains (see Manifest), written last
//	schemas/<schema>.cssbackup pg_dump custom format, dumped uncompressed and deflated here
//	delivery/…                 the application's delivery folder, modes and mtimes kept,
//	                           or, for an incremental backup (manifest format_version 2),
//	index/delivery.json        the folder's index, its contents in the store's packs
//	                           (see package cas)
//	options.xml                version-level options
//	files/…                    file-based persistence (H2 databases)
//
// Archives are plain ZIP files (ZIP64 where sizes or the entry count need it) that `unzip -t`
// and any ZIP reader accept, so an operator can always get data out without planb.
//
// # Writing
//
// Writer compresses every byte exactly once with klauspost's flate and computes CRC-32,
// SHA-256 and sizes on the way. Entries are compressed concurrently, each into its own
// spool (memory for small entries, an unlinked temporary file for big ones), and appended to
// the ZIP stream with CreateRaw under a mutex as they complete. The output is written strictly
// sequentially, so it may be a local *.partial file or an S3 multipart upload stream. Files
// that are already compressed (by extension: .zip, .jar, .gz, .png, …) are stored, not deflated.
//
// The default deflate level is 1. Measured in CPU time on SQL schemas, source text and
// pg_dump COPY data, level 1 runs at 130–230 MB/s per core, 1.3–2.5× faster than level 5, for
// output 2–9% larger; compression is what a backup costs on a small machine, storage is
// cheap. WriterOptions.Level overrides it; BenchmarkWriterTree and BenchmarkWriterStream
// compare both levels with Info-ZIP's zip.
//
// # Reading
//
// Reader works on an io.ReaderAt, so a remote store can serve ranged reads: opening an
// archive reads only the central directory; reading an entry fetches only that entry.
// Verify checks every entry's CRC-32 and, against the manifest, its size, mode and SHA-256.
//
// # Extracting
//
// Archives are untrusted input. CheckSafe rejects names that are absolute, contain "..",
// backslashes or drive letters, duplicate entries, device, fifo and socket entries, entries
// below a file or symlink entry, and implausible compression ratios (zip bombs); with
// SafetyOptions.Prefixes it checks only the entries that will be extracted. Extract runs
// those checks before it writes anything, then writes only through an os.Root opened on the
// target directory, entering no directory that is a symlink, creating files with O_EXCL and
// the archive's symlinks last. The target directory confines the names of entries, not the
// targets of symlinks: a link to an absolute path or out of the folder is restored as the
// same link, and nothing is ever written through it.
//
// Symlinks are stored as Info-ZIP's zip -y stores them: an entry whose Unix mode is S_IFLNK
// and whose content is the link's target, so unzip restores them as links too. AddTree
// leaves out what an archive cannot hold faithfully — sockets, fifos, devices, names that
// are not valid UTF-8 — and lists it in TreeStats.Skipped.
package archive
