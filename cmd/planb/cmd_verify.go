package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
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
			filter := ""
			if len(args) == 1 {
				filter = args[0]
			}
			rows, down, err := g.archives(cmd.Context(), filter, false)
			if err != nil {
				if errors.As(err, new(*listError)) {
					return withCode(exitUnreadable, err)
				}
				return err
			}
			failed, unreadable, checked := 0, 0, 0
			// A store that could not be listed is reported like an
			// archive that could not be read; the others are verified.
			for _, u := range unreachableStores(down) {
				unreadable++
				fmt.Fprintf(g.stdout, "UNREADABLE store.%s: not listed: %s\n", u.Store, u.Error)
			}
			marks := &damageMarks{g: g}
			// unreachable holds, per store, why its endpoint stopped
			// answering: its other archives are not tried.
			unreachable := map[string]error{}
			for _, r := range rows {
				if r.Status == statusPartial {
					continue
				}
				checked++
				if why := unreachable[r.Store]; why != nil {
					unreadable++
					fmt.Fprintf(g.stdout, "UNREADABLE store.%s %s/%s: not tried: %v\n", r.Store, r.Folder, r.Archive, why)
					continue
				}
				detail, err := verifyOne(cmd.Context(), r, deep)
				var u *runner.UnreadableError
				var unchecked *runner.UncheckedError
				switch {
				case err == nil:
					fmt.Fprintf(g.stdout, "ok      store.%s %s/%s%s%s\n", r.Store, r.Folder, r.Archive, detail, keyStatus(r))
					marks.clear(cmd.Context(), r)
				case cmd.Context().Err() != nil:
					return err
				case isKeyError(err):
					unreadable++
					fmt.Fprintf(g.stdout, "NO KEY  store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, errors.Unwrap(err))
				case errors.As(err, &unchecked):
					unreadable++
					fmt.Fprintf(g.stdout, "UNCHECKED  store.%s %s/%s: checksums ok; %v\n", r.Store, r.Folder, r.Archive, unchecked)
					g.report.archiveFailed(r, "unchecked", unchecked)
				case errors.As(err, &u):
					unreadable++
					fmt.Fprintf(g.stdout, "UNREADABLE store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, u.Err)
					g.report.archiveFailed(r, "unreadable", u.Err)
					if errors.Is(err, store.ErrUnreachable) {
						unreachable[r.Store] = u.Err
					}
				default:
					failed++
					var d *runner.DamagedError
					if errors.As(err, &d) {
						err = d.Err
						marks.mark(cmd.Context(), r, d)
					}
					fmt.Fprintf(g.stdout, "FAILED  store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, err)
					g.report.archiveFailed(r, "damaged", err)
				}
			}
			fmt.Fprintf(g.stdout, "\n%d archive(s) verified, %d failed (damaged), %d unreadable or unchecked.\n", checked, failed, unreadable)
			g.report.verified(checked, failed, unreadable)
			switch {
			case failed > 0:
				return withCode(exitError, nil)
			case unreadable > 0:
				return withCode(exitUnreadable, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&deep, "deep", false, "also test-restore every schema into a scratch database and compare")
	g.sendsNotifications(cmd)
	return cmd
}

// verifyOne checks one archive; deep adds test restores. It returns what
// the deep check found, for the report line. An archive its store could not
// deliver is a *runner.UnreadableError; a damaged one a
// *runner.DamagedError; a deep check that fails otherwise (the test restore)
// returns its own error.
func verifyOne(ctx context.Context, r listedArchive, deep bool) (string, error) {
	obj, err := r.st.Open(ctx, r.ref, r.Archive)
	if err != nil {
		return "", runner.OpenError(r.Store, r.ref, r.Archive, err)
	}
	defer obj.Close()
	t := runner.TrackReads(obj)
	if !deep {
		rd, err := archive.Open(t, obj.Size())
		if err == nil {
			err = runner.VerifyArchive(ctx, rd)
		}
		if err == nil {
			return "", runner.VerifyPacks(ctx, r.st, r.ref, r.Archive, t, obj.Size())
		}
		return "", runner.Classify(ctx, r.Store, r.ref, r.Archive, t, err)
	}
	var db *config.Database
	if r.res != nil {
		db = r.res.Database
	}
	if err := runner.VerifyPacks(ctx, r.st, r.ref, r.Archive, t, obj.Size()); err != nil {
		return "", err
	}
	checks, err := runner.VerifyDeep(ctx, t, obj.Size(), db)
	if err != nil {
		if t.Err() != nil {
			return "", runner.Classify(ctx, r.Store, r.ref, r.Archive, t, err)
		}
		return "", err
	}
	var problems []string
	var parts []string
	for _, c := range checks {
		parts = append(parts, fmt.Sprintf("%s: %d tables, %d rows", c.Schema, c.Tables, c.Rows))
		for _, p := range c.Problems {
			problems = append(problems, c.Schema+": "+p)
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("test restore differs from the manifest: %s", strings.Join(problems, "; "))
	}
	if len(parts) == 0 {
		return "", nil
	}
	return " (restored " + strings.Join(parts, "; ") + ")", nil
}

// damageMarks keeps the damage records of the folders verify checks up to
// date: a damaged archive is recorded, so that plans show it and leave it
// out; one that verifies loses its mark. Each folder's record is read once.
type damageMarks struct {
	g       *globals
	records map[string][]plan.Damage // by store and folder
}

func (m *damageMarks) key(r listedArchive) string { return r.Store + "\x00" + r.Folder }

func (m *damageMarks) mark(ctx context.Context, r listedArchive, d *runner.DamagedError) {
	err := runner.MarkDamaged(ctx, r.st, r.ref, plan.Damage{
		Archive: r.Archive, Found: time.Now().UTC().Truncate(time.Second), By: "verify", Problem: d.Err.Error(),
	})
	if err != nil {
		m.g.logger.Warn("could not record a damaged archive", "store", r.Store, "archive", r.Folder+"/"+r.Archive, "err", err)
	}
	delete(m.records, m.key(r))
}

func (m *damageMarks) clear(ctx context.Context, r listedArchive) {
	if m.records == nil {
		m.records = map[string][]plan.Damage{}
	}
	list, ok := m.records[m.key(r)]
	if !ok {
		var err error
		if list, err = runner.ReadDamage(ctx, r.st, r.ref); err != nil {
			m.g.logger.Warn("could not read a damage record", "store", r.Store, "folder", r.Folder, "err", err)
		}
		m.records[m.key(r)] = list
	}
	if !slices.ContainsFunc(list, func(d plan.Damage) bool { return d.Archive == r.Archive }) {
		return
	}
	if _, err := runner.ClearDamage(ctx, r.st, r.ref, r.Archive); err != nil {
		m.g.logger.Warn("could not clear a damage mark", "store", r.Store, "archive", r.Folder+"/"+r.Archive, "err", err)
	}
	delete(m.records, m.key(r))
}
