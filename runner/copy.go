package runner

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// copy builds a copy action: the archive is copied, checked at both ends,
// from one store into another under the lock of the target.
func (b *builder) copy(a *plan.Action, r *config.Resource, src, dst store.Store) error {
	id := a.ID
	lockID := b.lockFor(r, dst, id)
	ref := plan.RefOf(r)
	b.add(dag.Step{
		ID:    id,
		Label: fmt.Sprintf("copy %s from store.%s to store.%s", a.Archive, src.Name(), dst.Name()),
		Group: Target{r.Address, dst.Name()},
		Deps:  b.after(a, lockID),
		Run: func(ctx context.Context, p *dag.Progress) error {
			if _, err := noteNode(ctx, dst, ref, a.Archive, b.env.Config.Node); err != nil {
				return err
			}
			err := prepareCopy(ctx, src, dst, ref, a.Archive)
			if err == nil {
				err = copyVerified(ctx, src, dst, ref, a.Archive, p)
			}
			if err != nil {
				var d *DamagedError
				if errors.As(err, &d) && d.Store == src.Name() {
					noteDamage(ctx, b.env.Logger, src, ref, a.Archive, "copy to store."+dst.Name(), d)
				}
				return err
			}
			b.verified.add(dst.Name(), ref, a.Archive)
			return nil
		},
	})
	return nil
}

// copyVerified copies an archive from src into dst, checking both ends.
// The source is read and checked first, as `planb verify` checks it: a
// damaged archive (a *DamagedError) is never copied. The copy is then
// checked where it landed: before it becomes visible where dst can read an
// upload back, by its size and the SHA-256 of all its bytes against what
// was sent; once committed otherwise, the same way, or, when the store's
// server made the copy, by checking it as the source was checked. A copy
// that fails its check is deleted.
//
// From an encrypted store without an identity only a copy into a store
// that encrypts to the same recipients can be made (copySealed).
func copyVerified(ctx context.Context, src, dst store.Store, ref store.Ref, name string, p *dag.Progress) error {
	if err := store.DecryptError(src); err != nil {
		return copySealed(ctx, src, dst, ref, name, err)
	}
	obj, err := src.Open(ctx, ref, name)
	if err != nil {
		return err
	}
	defer obj.Close()
	source, err := checkObject(ctx, src.Name(), ref, name, obj)
	if err != nil {
		if errors.As(err, new(*DamagedError)) {
			return fmt.Errorf("%w; not copied", err)
		}
		return fmt.Errorf("check the source: %w", err)
	}
	if c, ok := dst.(store.ServerSideCopier); ok {
		done, err := c.CopyFrom(ctx, src, ref, name)
		if err != nil {
			return err
		}
		if done {
			return checkServerCopy(ctx, dst, ref, name, source)
		}
	}
	p.SetTotal(obj.Size())
	up, err := dst.Create(ctx, ref, name)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			up.Abort()
		}
	}()
	sw := newSealWriter(up)
	if _, err := io.Copy(sw, p.Reader(io.NewSectionReader(obj, 0, obj.Size()))); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	if err := commitWritten(ctx, up, dst, ref, name, sw, true); err != nil {
		return err
	}
	committed = true
	return nil
}

// copySealed copies an archive out of an encrypted store that cannot
// decrypt (why says so) into dst. Only its encrypted bytes can be copied,
// so dst must encrypt to the same recipients: what can be checked without
// a key is checked in the source first (a damaged source is not copied),
// and the copy is compared byte for byte with the source
// (store.Encrypted.CopyFrom).
func copySealed(ctx context.Context, src, dst store.Store, ref store.Ref, name string, why error) error {
	c, ok := dst.(*store.Encrypted)
	if !ok || !store.SameEncryption(src, dst) {
		return fmt.Errorf("copy %s from store.%s to store.%s, which does not encrypt to the same recipients, decrypts it: %w",
			name, src.Name(), dst.Name(), why)
	}
	if _, err := checkArchive(ctx, src, ref, name); err != nil {
		if errors.As(err, new(*DamagedError)) {
			return fmt.Errorf("%w; not copied", err)
		}
		return fmt.Errorf("check the source: %w", err)
	}
	done, err := c.CopyFrom(ctx, src, ref, name)
	if err == nil && !done {
		err = fmt.Errorf("copy %s from store.%s to store.%s: it is not stored encrypted in store.%s, and reading it there needs its identity: %w",
			name, src.Name(), dst.Name(), src.Name(), why)
	}
	return err
}

// checkServerCopy checks a copy the store's server made: it must verify,
// and hold the source's manifest and size. A copy that fails is deleted.
// An encrypted store without an identity cannot read the copy: its
// CopyFrom compared the encrypted bytes already.
func checkServerCopy(ctx context.Context, dst store.Store, ref store.Ref, name string, source checked) error {
	if store.DecryptError(dst) != nil {
		return nil
	}
	got, err := checkArchive(ctx, dst, ref, name)
	if err == nil && (got.size != source.size || got.digest != source.digest) {
		err = fmt.Errorf("the copy (%d bytes) differs from the source (%d bytes)", got.size, source.size)
	}
	if err == nil {
		return nil
	}
	if derr := dst.Delete(context.WithoutCancel(ctx), ref, name); derr != nil {
		return fmt.Errorf("check the copy of %s in store.%s: %w; deleting the copy failed too: %v", name, dst.Name(), err, derr)
	}
	return fmt.Errorf("check the copy of %s in store.%s: %w; the copy was deleted", name, dst.Name(), err)
}
