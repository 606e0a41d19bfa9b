package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseClientVersion(t *testing.T) {
	tests := map[string]struct {
		out      string
		wantNum  int
		wantText string
		wantErr  bool
	}{
		"debian":       {out: "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", wantNum: 150018, wantText: "15.18 (Debian 15.18-0+deb12u1)"},
		"plain":        {out: "pg_dump (PostgreSQL) 16.4", wantNum: 160004, wantText: "16.4"},
		"nine six":     {out: "pg_dump (PostgreSQL) 9.6.24\n", wantNum: 90624, wantText: "9.6.24"},
		"devel":        {out: "pg_dump (PostgreSQL) 18devel", wantNum: 180000, wantText: "18devel"},
		"beta":         {out: "pg_dump (PostgreSQL) 17beta2", wantNum: 170000, wantText: "17beta2"},
		"ubuntu":       {out: "pg_dump (PostgreSQL) 14.13 (Ubuntu 14.13-0ubuntu0.22.04.1)", wantNum: 140013, wantText: "14.13 (Ubuntu 14.13-0ubuntu0.22.04.1)"},
		"not pg_dump":  {out: "bash: pg_dump: command not found", wantErr: true},
		"empty output": {out: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			num, text, err := parseClientVersion(tc.out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseClientVersion(%q) = %d, want an error", tc.out, num)
				}
				return
			}
			if err != nil || num != tc.wantNum || text != tc.wantText {
				t.Fatalf("parseClientVersion(%q) = %d, %q, %v; want %d, %q", tc.out, num, text, err, tc.wantNum, tc.wantText)
			}
		})
	}
}

func TestCheckVersions(t *testing.T) {
	tests := map[string]struct {
		client, server int
		wantErr        string
	}{
		"same major, older minor": {client: 150002, server: 150018},
		"newer client":            {client: 170000, server: 150018},
		"older client":            {client: 140013, server: 150018, wantErr: "pg_dump 14 is older than the server (PostgreSQL 15)"},
		"client 15, server 9.6":   {client: 150018, server: 90624},
		"client 9.6, server 10":   {client: 90624, server: 100023, wantErr: "pg_dump 9.6 is older than the server (PostgreSQL 10)"},
		"client 9.5, server 9.6":  {client: 90525, server: 90624, wantErr: "older than the server (PostgreSQL 9.6)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			text := majorText(majorOf(tc.client))
			err := checkVersions(tc.client, text, tc.server)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkVersions(%d, %d) = %v, want nil", tc.client, tc.server, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("checkVersions(%d, %d) = %v, want an error containing %q", tc.client, tc.server, err, tc.wantErr)
			}
		})
	}
}

func TestSchemaPattern(t *testing.T) {
	tests := map[string]string{
		"app_local":      `"app_local"`,
		"Web.Shop":       `"Web.Shop"`,
		"Legacy Central": `"Legacy Central"`,
		`say "hi"`:       `"say ""hi"""`,
		"a*b?":           `"a*b?"`,
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := schemaPattern(in); got != want {
				t.Fatalf("schemaPattern(%q) = %s, want %s", in, got, want)
			}
		})
	}
}

// fakeBinDir returns a directory holding empty executables with the given
// names, enough for command construction.
func fakeBinDir(t *testing.T, names ...string) string {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDumpCommandKeepsPasswordOutOfArgv(t *testing.T) {
	const password = "Sup3r-Secret-Passw0rd"
	t.Setenv("PGPASSWORD", "inherited-must-not-win")
	t.Setenv("PGSERVICE", "some-service")
	c := ConnConfig{Host: "db.example", Port: 2284, User: "operator", Password: password,
		DBName: "postgres", SSLMode: "require", BinDir: fakeBinDir(t, "pg_dump")}
	cmd, err := dumpCommand(context.Background(), c, DumpOptions{Schema: "Web.Shop", Snapshot: "00000003-0000001B-1", ExtraArgs: []string{"--no-comments"}})
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(cmd.Args, " ")
	if strings.Contains(argv, password) {
		t.Fatalf("password in argv: %s", argv)
	}
	for _, want := range []string{"--format=custom", "--compress=0", "--no-password", `--schema="Web.Shop"`, "--strict-names",
		"--snapshot=00000003-0000001B-1", "--host=db.example", "--port=2284", "--username=operator", "--no-comments"} {
		if !slices.Contains(cmd.Args, want) {
			t.Errorf("argv lacks %s: %s", want, argv)
		}
	}
	if !slices.Contains(cmd.Env, "PGPASSWORD="+password) {
		t.Error("PGPASSWORD not in the child's environment")
	}
	for _, kv := range []string{"PGPASSWORD=inherited-must-not-win", "PGSERVICE=some-service"} {
		if slices.Contains(cmd.Env, kv) {
			t.Errorf("child inherits %s", kv)
		}
	}
	for _, kv := range []string{"PGDATABASE=postgres", "PGSSLMODE=require"} {
		if !slices.Contains(cmd.Env, kv) {
			t.Errorf("child environment lacks %s", kv)
		}
	}

	whole, err := dumpCommand(context.Background(), c, DumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range whole.Args {
		if strings.HasPrefix(a, "--schema") || a == "--strict-names" || strings.HasPrefix(a, "--snapshot") {
			t.Errorf("whole-database dump has %s", a)
		}
	}
}

func TestRestoreCommand(t *testing.T) {
	const password = "Sup3r-Secret-Passw0rd"
	c := ConnConfig{Host: "/run/postgresql", User: "operator", Password: password, DBName: "odd=name 'x'", BinDir: fakeBinDir(t, "pg_restore")}
	cmd, err := restoreCommand(context.Background(), c, RestoreOptions{Clean: true, NoOwner: true}, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(cmd.Args, " ")
	if strings.Contains(argv, password) {
		t.Fatalf("password in argv: %s", argv)
	}
	for _, want := range []string{"--exit-on-error", "--single-transaction", "--no-owner", "--clean", "--if-exists", `--dbname=dbname='odd=name \'x\''`} {
		if !slices.Contains(cmd.Args, want) {
			t.Errorf("argv lacks %s: %s", want, argv)
		}
	}
}

func TestProgramMissing(t *testing.T) {
	c := ConnConfig{BinDir: t.TempDir()}
	_, err := dumpCommand(context.Background(), c, DumpOptions{})
	if err == nil || !strings.Contains(err.Error(), "pg_dump not found in bin_dir") {
		t.Fatalf("err = %v, want pg_dump not found", err)
	}
}

func TestConnConfigHidesPassword(t *testing.T) {
	const password = "Sup3r-Secret-Passw0rd"
	c := ConnConfig{Host: "h", Port: 5432, User: "u", Password: password, DBName: "d"}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("connecting", "db", c)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("connecting", "db", c)
	for name, s := range map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c),
		"%#v": fmt.Sprintf("%#v", c), "slog": logs.String(),
	} {
		if strings.Contains(s, password) {
			t.Errorf("%s shows the password: %s", name, s)
		}
	}
	if got := c.String(); got != "postgres://u@h:5432/d" {
		t.Errorf("String() = %q", got)
	}
}

func TestScrub(t *testing.T) {
	c := ConnConfig{Password: "hunter22"}
	base := errors.New("boom")
	err := c.scrub(fmt.Errorf("failed with hunter22 inside: %w", base))
	if strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("scrub left the password: %v", err)
	}
	if !errors.Is(err, base) {
		t.Fatal("scrub broke the error chain")
	}
	if got := c.scrub(base); got != base {
		t.Fatalf("scrub changed an error without the password: %v", got)
	}
}

func TestDiff(t *testing.T) {
	base := func() *SchemaDescription {
		return &SchemaDescription{
			Schema: "a",
			Tables: []TableDescription{{
				Name: "t", Kind: "table",
				Columns:     []Column{{Name: "id", Type: "integer", NotNull: true}, {Name: "v", Type: "text"}},
				Constraints: []Definition{{Name: "t_pkey", Definition: "PRIMARY KEY (id)"}},
				Rows:        2, Checksum: "abc",
			}},
			Functions: []Definition{{Name: "f(integer)", Definition: "CREATE FUNCTION f…"}},
		}
	}
	tests := map[string]struct {
		change func(d *SchemaDescription)
		want   []string
	}{
		"equal, other schema name": {change: func(d *SchemaDescription) { d.Schema = "b" }},
		"rows differ": {
			change: func(d *SchemaDescription) { d.Tables[0].Rows, d.Tables[0].Checksum = 3, "def" },
			want:   []string{"~ rows of t: 2 rows, checksum abc → 3 rows, checksum def"},
		},
		"column type differs": {
			change: func(d *SchemaDescription) { d.Tables[0].Columns[1].Type = "character varying" },
			want:   []string{"~ column t.v: #2 text → #2 character varying"},
		},
		"function missing, index added": {
			change: func(d *SchemaDescription) {
				d.Functions = nil
				d.Tables[0].Indexes = []Definition{{Name: "t_v", Definition: "CREATE INDEX t_v ON t USING btree (v)"}}
			},
			want: []string{"- function f(integer): CREATE FUNCTION f…", "+ index t_v on t: CREATE INDEX t_v ON t USING btree (v)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := base()
			tc.change(b)
			got := base().Diff(b)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
