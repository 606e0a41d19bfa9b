package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/files"
)

type fmtOptions struct {
	check, diff, recursive bool
}

func newFmtCmd(g *globals) *cobra.Command {
	var o fmtOptions
	cmd := &cobra.Command{
		Use:   "fmt [PATH…]",
		Short: "Rewrite configuration files in the canonical layout",
		Long: `Fmt rewrites *.hcl files in the canonical layout. Without PATH it formats the
configuration directory (--chdir); "-" formats standard input to standard output.
A file with syntax errors is left untouched. With --check nothing is written:
the files that would change are listed and planb exits with code 3.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runFmt(args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.check, "check", false, "list files that would change and exit 3; write nothing")
	f.BoolVar(&o.diff, "diff", false, "print the changes as a unified diff")
	f.BoolVar(&o.recursive, "recursive", false, "also format files in sub-directories")
	return cmd
}

func (g *globals) runFmt(args []string, o fmtOptions) error {
	if len(args) == 1 && args[0] == "-" {
		src, err := io.ReadAll(g.stdin)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		out, diags := config.Format(src, "<stdin>")
		if diags.HasErrors() {
			return g.fmtFailed(diags, map[string][]byte{"<stdin>": src})
		}
		return views.NewFmt(g.view()).Formatted(out)
	}
	if len(args) == 0 {
		args = []string{g.chdir}
	}
	names, err := hclFiles(args, o.recursive)
	if err != nil {
		return err
	}
	var changed bool
	var allDiags hcl.Diagnostics
	sources := map[string][]byte{}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		out, diags := config.Format(src, name)
		if diags.HasErrors() {
			allDiags = append(allDiags, diags...)
			sources[name] = src
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = true
		views.NewFmt(g.view()).Changed(name, src, out, o.diff)
		if !o.check {
			st, err := os.Stat(name)
			if err != nil {
				return err
			}
			if err := files.WriteFileAtomic(name, out, st.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	if allDiags.HasErrors() {
		return g.fmtFailed(allDiags, sources)
	}
	if o.check && changed {
		return withCode(exitFmtChanges, nil)
	}
	return nil
}

func (g *globals) fmtFailed(diags hcl.Diagnostics, sources map[string][]byte) error {
	if err := g.view().Diagnostics(diags, sources); err != nil {
		return err
	}
	return withCode(exitError, nil)
}

// hclFiles expands paths into the *.hcl files they name, sorted.
func hclFiles(paths []string, recursive bool) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".hcl") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}
