package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/facts"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var deep bool
	cmd := &cobra.Command{
		Use:   "verify [ADDR|ARCHIVE]",
		Short: "Check the checksums of archives",
		Long: `Verify reads every entry of every archive (or of the resource or archive
named) and checks it against the CRC of the ZIP and the SHA-256 and size the
manifest recorded, and applies every safety check a restore applies (entry
names, types, links, compression ratios), so that an archive a restore would
refuse fails here.

Each archive is reported ok, FAILED (damaged: its bytes are wrong, naming the
entry, or, in an encrypted store, they fail authentication), NO KEY (in an
encrypted store: no identity_file is configured, or its key is not one the
archive was encrypted to), UNREADABLE (its store could not deliver it: a network, endpoint or
permission problem that says nothing about the archive) or, with --deep,
UNCHECKED (its checksums are right but the test restore could not be made:
no CREATEDB privilege, an unreachable server, a refused login). Once a store's
endpoint stops answering, its remaining archives are reported UNREADABLE
without being tried. An ok archive of an encrypted store says whether it
was stored encrypted and which identity file opened it. Verify exits 1 when
any archive is damaged, else 4 when any archive or store listing could not be
read or checked (NO KEY included), else 0.

With --deep it also restores every schema dump into a scratch database that
planb creates on the resource's server (and drops afterwards), and compares the
restored tables with the manifest: the same tables, and rows wherever the
manifest saw rows. The database user needs the CREATEDB privilege.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runVerify(cmd.Context(), args, deep)
		},
	}
	cmd.Flags().BoolVar(&deep, "deep", false, "also test-restore every schema into a scratch database and compare")
	g.sendsNotifications(cmd)
	return cmd
}

func (g *globals) runVerify(ctx context.Context, args []string, deep bool) error {
	_, _, rows, down, err := g.archives(ctx, args, false)
	if err != nil {
		if errors.As(err, new(*facts.ListError)) {
			return withCode(exitUnreadable, err)
		}
		return err
	}
	view := views.NewVerify(g.view())
	failed, unreadable, checked := 0, 0, 0
	// A store that could not be listed is reported like an archive that
	// could not be read; the others are verified.
	for _, name := range facts.UnreachableNames(down) {
		unreadable++
		view.NotListed(name, down[name])
	}
	marks := &damageMarks{g: g}
	// unreachable holds, per store, why its endpoint stopped answering:
	// its other archives are not tried.
	unreachable := map[string]error{}
	for _, r := range rows {
		if r.Status == plan.ArchivePartial {
			continue
		}
		checked++
		if why := unreachable[r.Store]; why != nil {
			unreadable++
			view.NotTried(r, why)
			continue
		}
		checks, err := verifyOne(ctx, r, deep)
		var u *runner.UnreadableError
		var unchecked *runner.UncheckedError
		switch {
		case err == nil:
			view.OK(r, checks)
			marks.clear(ctx, r)
		case ctx.Err() != nil:
			return err
		case facts.IsKeyError(err):
			unreadable++
			view.NoKey(r, errors.Unwrap(err))
		case errors.As(err, &unchecked):
			unreadable++
			view.Unchecked(r, unchecked)
			g.report.archiveFailed(r, "unchecked", unchecked)
		case errors.As(err, &u):
			unreadable++
			view.Unreadable(r, u.Err)
			g.report.archiveFailed(r, "unreadable", u.Err)
			if errors.Is(err, store.ErrUnreachable) {
				unreachable[r.Store] = u.Err
			}
		default:
			failed++
			var d *runner.DamagedError
			if errors.As(err, &d) {
				err = d.Err
				marks.mark(ctx, r, d)
			}
			view.Failed(r, err)
			g.report.archiveFailed(r, "damaged", err)
		}
	}
	view.Totals(checked, failed, unreadable)
	g.report.verified(checked, failed, unreadable)
	switch {
	case failed > 0:
		return withCode(exitError, nil)
	case unreadable > 0:
		return withCode(exitUnreadable, nil)
	}
	return nil
}

// verifyOne checks one archive; deep adds test restores, whose checks it
// returns. An archive its store could not deliver is a
// *runner.UnreadableError; a damaged one a *runner.DamagedError; a deep
// check that fails otherwise (the test restore) returns its own error.
func verifyOne(ctx context.Context, r facts.ArchiveRow, deep bool) ([]runner.DeepCheck, error) {
	obj, err := r.Handle.Open(ctx, r.Ref, r.Archive)
	if err != nil {
		return nil, runner.OpenError(r.Store, r.Ref, r.Archive, err)
	}
	defer obj.Close()
	t := runner.TrackReads(obj)
	if !deep {
		rd, err := archive.Open(t, obj.Size())
		if err == nil {
			err = runner.VerifyArchive(ctx, rd)
		}
		if err == nil {
			return nil, runner.VerifyPacks(ctx, r.Handle, r.Ref, r.Archive, t, obj.Size())
		}
		return nil, runner.Classify(ctx, r.Store, r.Ref, r.Archive, t, err)
	}
	var db *config.Database
	if r.Res != nil {
		db = r.Res.Database
	}
	if err := runner.VerifyPacks(ctx, r.Handle, r.Ref, r.Archive, t, obj.Size()); err != nil {
		return nil, err
	}
	checks, err := runner.VerifyDeep(ctx, t, obj.Size(), db)
	if err != nil {
		if t.Err() != nil {
			return nil, runner.Classify(ctx, r.Store, r.Ref, r.Archive, t, err)
		}
		return nil, err
	}
	var problems []string
	for _, c := range checks {
		for _, p := range c.Problems {
			problems = append(problems, c.Schema+": "+p)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("test restore differs from the manifest: %s", strings.Join(problems, "; "))
	}
	return checks, nil
}

// damageMarks keeps the damage records of the folders verify checks up to
// date: a damaged archive is recorded, so that plans show it and leave it
// out; one that verifies loses its mark. Each folder's record is read once.
type damageMarks struct {
	g       *globals
	records map[string][]plan.Damage // by store and folder
}

func (m *damageMarks) key(r facts.ArchiveRow) string { return r.Store + "\x00" + r.Folder }

func (m *damageMarks) mark(ctx context.Context, r facts.ArchiveRow, d *runner.DamagedError) {
	err := runner.MarkDamaged(ctx, r.Handle, r.Ref, plan.Damage{
		Archive: r.Archive, Found: time.Now().UTC().Truncate(time.Second), By: "verify", Problem: d.Err.Error(),
	})
	if err != nil {
		m.g.logger.Warn("could not record a damaged archive", "store", r.Store, "archive", r.Folder+"/"+r.Archive, "err", err)
	}
	delete(m.records, m.key(r))
}

func (m *damageMarks) clear(ctx context.Context, r facts.ArchiveRow) {
	if m.records == nil {
		m.records = map[string][]plan.Damage{}
	}
	list, ok := m.records[m.key(r)]
	if !ok {
		var err error
		if list, err = runner.ReadDamage(ctx, r.Handle, r.Ref); err != nil {
			m.g.logger.Warn("could not read a damage record", "store", r.Store, "folder", r.Folder, "err", err)
		}
		m.records[m.key(r)] = list
	}
	if !slices.ContainsFunc(list, func(d plan.Damage) bool { return d.Archive == r.Archive }) {
		return
	}
	if _, err := runner.ClearDamage(ctx, r.Handle, r.Ref, r.Archive); err != nil {
		m.g.logger.Warn("could not clear a damage mark", "store", r.Store, "archive", r.Folder+"/"+r.Archive, "err", err)
	}
	delete(m.records, m.key(r))
}
