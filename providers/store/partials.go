package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// partialRecord is the name of the record of the run writing partial
// archive name (a complete archive name): "<archive>.partial.json", kept
// while the archive is written and removed with the partial.
func partialRecord(name string) string { return name + PartialSuffix + ".json" }

// writePartialRecord records that writer (this process) writes archive
// name of ref from now on.
func writePartialRecord(ctx context.Context, r Records, ref Ref, name string, writer LockInfo) error {
	data, err := json.Marshal(writer)
	if err != nil {
		return err
	}
	return r.WriteRecord(ctx, ref, partialRecord(name), append(data, '\n'))
}

// readPartialRecord returns the recorded writer of partial leftover name
// (with ".partial"); a zero LockInfo when there is no usable record.
func readPartialRecord(ctx context.Context, r Records, ref Ref, name string) (LockInfo, error) {
	data, err := r.ReadRecord(ctx, ref, partialRecord(stripPartial(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return LockInfo{}, nil
	}
	if err != nil {
		return LockInfo{}, err
	}
	var w LockInfo
	if json.Unmarshal(data, &w) != nil || w.RunID == "" {
		return LockInfo{}, nil // not a record this planb can use: unknown writer
	}
	return w, nil
}

func stripPartial(name string) string { return strings.TrimSuffix(name, PartialSuffix) }

// attributePartials fills Writer and Live of the partials in as: the
// writer from each partial's record, and whether it still holds the
// resource's lock (the lock record names its run, its deadline has not
// passed at now and its process is not proven gone). holder reads the
// lock record of a resource: found false when there is none; an
// undecodable record is an error matching errLockUnreadable, which keeps
// every partial of a recorded writer live.
func attributePartials(ctx context.Context, as []Archive, r Records, id identity, now time.Time,
	holder func(ctx context.Context, ref Ref) (info LockInfo, found bool, err error)) error {
	type lockState struct {
		info  LockInfo
		found bool
		err   error
	}
	locks := map[Ref]*lockState{}
	for i := range as {
		a := &as[i]
		if !a.Partial {
			continue
		}
		w, err := readPartialRecord(ctx, r, a.Ref, a.Name)
		if err != nil {
			return fmt.Errorf("writer of %s: %w", a.Key(), err)
		}
		a.Writer = w
		if w.RunID == "" {
			continue
		}
		st, ok := locks[a.Ref]
		if !ok {
			st = &lockState{}
			st.info, st.found, st.err = holder(ctx, a.Ref)
			if st.err != nil && !errors.Is(st.err, errLockUnreadable) {
				return fmt.Errorf("lock of %s: %w", a.Ref, st.err)
			}
			locks[a.Ref] = st
		}
		switch {
		case st.err != nil:
			a.Live = true // cannot tell: keep it
		case st.found && st.info.RunID == w.RunID:
			takeOver, _ := id.judge(st.info, now)
			a.Live = !takeOver
		}
	}
	return nil
}

// errLockUnreadable is matched by the error of a lock record that exists
// but cannot be decoded.
var errLockUnreadable = errors.New("lock record unreadable")

// notePartial records that this process writes archive name of ref.
func (s *S3) notePartial(ctx context.Context, ref Ref, name string) error {
	return writePartialRecord(ctx, s, ref, name, s.id.record(s.now()))
}

// forgetPartial removes the record of the writer of archive name of ref,
// once its partial is committed or gone. A failure is logged: a record
// without a partial is never read.
func (s *S3) forgetPartial(ctx context.Context, ref Ref, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3CleanupTimeout)
	defer cancel()
	if err := s.DeleteRecord(ctx, ref, partialRecord(name)); err != nil {
		s.logger.Warn("could not remove the record of a partial archive's writer", "store", s.name,
			"archive", ref.Key(name), "err", err)
	}
}

// attributePartials fills Writer and Live of the partials of a listing.
func (s *S3) attributePartials(ctx context.Context, as []Archive) error {
	return attributePartials(ctx, as, s, s.id, s.now(), s.lockHolder)
}

// forgetPartial removes the record of the writer of archive name of ref,
// once its partial is committed or gone. A failure is logged: a record
// without a partial is never read.
func (l *Local) forgetPartial(ref Ref, name string) {
	if err := l.DeleteRecord(context.Background(), ref, partialRecord(name)); err != nil {
		l.logger.Warn("could not remove the record of a partial archive's writer", "store", l.name,
			"archive", ref.Key(name), "err", err)
	}
}

// attributePartials fills Writer and Live of the partials of a listing.
func (l *Local) attributePartials(ctx context.Context, as []Archive) error {
	return attributePartials(ctx, as, l, l.id, l.now(), l.lockHolder)
}

// lockHolder returns the record of ref's lock file; found is false when
// there is none.
func (l *Local) lockHolder(ctx context.Context, ref Ref) (LockInfo, bool, error) {
	info, err := readLock(filepath.Join(l.root, "locks", ref.Kind, ref.Name+".lock"))
	switch {
	case err == nil:
		return info, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return LockInfo{}, false, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return LockInfo{}, false, err
	}
	return LockInfo{}, true, fmt.Errorf("%w: %v", errLockUnreadable, err)
}
