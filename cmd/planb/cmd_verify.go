package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/providers/archive"
)

func newVerifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [ADDR|ARCHIVE]",
		Short: "Check the checksums of archives",
		Long: `Verify reads every entry of every archive (or of the resource or archive
named) and checks it against the CRC of the ZIP and the SHA-256 and size the
manifest recorded. It exits 1 when any archive fails, naming it and the entry.`,
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
				if err := verifyOne(cmd.Context(), r); err != nil {
					failed++
					fmt.Fprintf(g.stdout, "FAILED  store.%s %s/%s: %v\n", r.Store, r.Folder, r.Archive, err)
					continue
				}
				fmt.Fprintf(g.stdout, "ok      store.%s %s/%s\n", r.Store, r.Folder, r.Archive)
			}
			fmt.Fprintf(g.stdout, "\n%d archive(s) verified, %d failed.\n", checked, failed)
			if failed > 0 {
				return withCode(exitError, nil)
			}
			return nil
		},
	}
	return cmd
}

func verifyOne(ctx context.Context, r listedArchive) error {
	obj, err := r.st.Open(ctx, r.ref, r.Archive)
	if err != nil {
		return err
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return err
	}
	return rd.Verify(ctx)
}
