// Package cas stores a folder content-addressed: each distinct file
// content once per store, compressed once, in pack files the store keeps
// beside its archives (store.Packs), and an Index that the backup archive
// holds in place of the folder's entries. It is what makes a backup of a
// CAST AIP delivery folder — every delivered version, growing with each —
// cost what changed instead of the whole folder again.
//
// # Packs
//
// A pack is a concatenation of blobs, each one file content compressed as
// one zstd frame; nothing else is in it. Its id is the hex SHA-256 of its
// bytes. Packs are filled up to PackSize (32 MiB) and written whole through
// store.Packs.PutPack, so a pack is visible only complete; a backup that
// dies leaves at most packs no archive references. Because every blob is a
// standard zstd frame at a recorded offset, one file can be recovered
// without planb:
//
//	tail -c +$((offset+1)) packs/ab/ab….pack | head -c $length | zstd -d > file
//
// # Index
//
// An Index lists every directory, file and symlink of the folder in walk
// order with its path, mode, mtime, size, SHA-256 and, for files, where
// its content lives (pack, offset, length), plus the change time and inode
// number a later backup compares to skip reading files that did not change.
//
// # Repacking and redirects
//
// A pack most of whose bytes no archive needs any more is repacked
// (Repack, decided by NeedsRepack over LiveSpans): its live blobs are
// copied as they are into a new pack, and a Redirect stored beside the old
// pack's place (store.PackRedirects) says, by old offset and length, where
// each went; then the old pack is deleted. Indexes are never rewritten:
// Resolve returns an index whose contents of missing packs are located
// through their redirects, which every reader (Extract, Verify,
// CheckPacks callers) uses, each content still checked against its SHA-256.
//
// # Reading less
//
// Build takes the index of the previous backup (the parent): a file whose
// path, size, mtime, ctime and inode equal the parent's entry, and whose
// pack the store still holds, reuses the recorded hash and location
// without being opened, as restic does. Any other file is read and hashed;
// its content is stored only when no pack of the parent (or of this
// backup) holds the same SHA-256 already. BuildOptions.FullRead reads
// every file; the index counts backups since the last full read so the
// caller can force one every Nth backup.
package cas
