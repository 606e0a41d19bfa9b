package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// TestSharedSamplesBackupRestore backs up an application whose dashboard
// schema is Chinook and whose analysis schema is Pagila, the samples of the
// shared test data folder, checks each dump with a plain pg_restore,
// damages the schemas and restores them with planb. The folder is optional:
// without it the test is reported Missing.
func TestSharedSamplesBackupRestore(t *testing.T) {
	if _, err := pgtest.TestdataDir(); err != nil {
		pgtest.Missing(t, "%v", err)
	}
	srv := pgtest.Start(t)
	e := &estate{srv: srv, dir: t.TempDir(), backups: t.TempDir()}
	e.db = srv.CreateDatabase(t, "samples")
	srv.LoadPagila(t, e.db, "music_local")
	srv.LoadChinook(t, e.db, "music_central")
	srv.Exec(t, e.db, `
CREATE SCHEMA music_mngt;
CREATE TABLE music_mngt.versions (id int PRIMARY KEY, name text NOT NULL, delivered timestamptz);
INSERT INTO music_mngt.versions SELECT g, 'v' || g, timestamptz '2026-01-01' + g * interval '1 day' FROM generate_series(1, 50) g;
INSERT INTO music_local.actor (first_name, last_name) SELECT 'First' || i, 'Last' || i FROM generate_series(1, 50) i;
INSERT INTO music_local.category (name) VALUES ('Action'), ('Drama');
`)
	e.env = []string{"PLANB_VAR_css_password=" + srv.Password}
	cfg := e.databaseHCL() + fmt.Sprintf(`
store "node" {
  local { path = %q }
}

application "music" {
  database = database.css
  schemas  = { management = "music_mngt", dashboard = "music_central", analysis = "music_local" }
  every    = "24h"
  stores   = [store.node]
}
`, e.backups)
	if err := os.WriteFile(filepath.Join(e.dir, "estate.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	schemas := []string{"music_mngt", "music_central", "music_local"}
	before := describeAll(t, e, schemas...)

	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z")
	archives := zips(t, e.backups, "applications/music")
	if len(archives) != 1 {
		t.Fatalf("archives: %v, want one", archives)
	}
	for _, s := range schemas {
		t.Run("pg_restore "+s, func(t *testing.T) { assertRestoresIdentical(t, e, archives[0], s) })
	}

	e.srv.Exec(t, e.db, `
UPDATE music_mngt.versions SET name = 'damaged' WHERE id < 10;
DELETE FROM music_central.invoice_line WHERE invoice_line_id % 3 = 0;
DROP TABLE music_central.playlist_track;
DELETE FROM music_local.actor WHERE actor_id % 2 = 0;
`)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.music", "--no-safety-backup", "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameSchemas(t, before, describeAll(t, e, schemas...))
}
