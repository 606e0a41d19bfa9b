package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/runner/check"
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
	// A store that could not be listed is reported like an archive that
	// could not be read; the others are verified.
	for _, name := range facts.UnreachableNames(down) {
		view.NotListed(name, down[name])
	}
	t, err := check.Run(ctx, rows, check.Options{Deep: deep, Logger: g.logger}, func(r check.Result) {
		view.Archive(r)
		if r.Verdict == check.Unchecked || r.Verdict == check.Unreadable || r.Verdict == check.Damaged {
			g.report.ArchiveFailed(r.Archive, string(r.Verdict), r.Err)
		}
	})
	if err != nil {
		return err
	}
	t.Unreadable += len(down)
	view.Totals(t)
	g.report.Verified(t.Checked, t.Failed, t.Unreadable)
	switch {
	case t.Failed > 0:
		return withCode(exitError, nil)
	case t.Unreadable > 0:
		return withCode(exitUnreadable, nil)
	}
	return nil
}
