package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
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
refuse fails here. It exits 1 when any archive fails, naming it and the entry.

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
			rows, err := g.archives(cmd.Context(), filter, false)
			if err != nil {
				return err
			}
			failed := 0
			checked := 0
			for _, r := range rows {
				if r.Status == statusPartial {
					continue
				}
				checked++
				detail, err := verifyOne(cmd.Context(), r, deep)
				if err != nil {
					failed++
					fmt.Fprintf(g.stdout, "FAILED  store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, err)
					continue
				}
				fmt.Fprintf(g.stdout, "ok      store.%s %s/%s%s\n", r.Store, r.Folder, r.Archive, detail)
			}
			fmt.Fprintf(g.stdout, "\n%d archive(s) verified, %d failed.\n", checked, failed)
			if failed > 0 {
				return withCode(exitError, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&deep, "deep", false, "also test-restore every schema into a scratch database and compare")
	return cmd
}

// verifyOne checks one archive; deep adds test restores. It returns what
// the deep check found, for the report line.
func verifyOne(ctx context.Context, r listedArchive, deep bool) (string, error) {
	obj, err := r.st.Open(ctx, r.ref, r.Archive)
	if err != nil {
		return "", err
	}
	defer obj.Close()
	if !deep {
		rd, err := archive.Open(obj, obj.Size())
		if err != nil {
			return "", err
		}
		return "", runner.VerifyArchive(ctx, rd)
	}
	var db *config.Database
	if r.res != nil {
		db = r.res.Database
	}
	checks, err := runner.VerifyDeep(ctx, obj, obj.Size(), db)
	if err != nil {
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
