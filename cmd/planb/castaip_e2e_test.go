package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
	"github.com/planb-backup/planb/providers/store/s3test"
)

// TestCastAIPExampleThroughS3 runs examples/cast-aip as an operator would,
// pointed by variables at a throwaway PostgreSQL and a local versitygw: an
// application is backed up into the node's store and copied into the
// bucket, list shows both, and a restore from the bucket gives the
// application back, with the after_restore hook synchronising the dashboard
// snapshots into the measurement schema. The bucket is encrypted: the node's
// key (a variable) reads it, and its archive decrypts with the stock age.
func TestCastAIPExampleThroughS3(t *testing.T) {
	srv := pgtest.Start(t)
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "aip-backups")
	db := srv.CreateDatabase(t, "css")
	srv.Exec(t, db, `
CREATE SCHEMA mainframe_mngt;
CREATE TABLE mainframe_mngt.versions (id int PRIMARY KEY, name text);
INSERT INTO mainframe_mngt.versions SELECT g, 'v' || g FROM generate_series(1, 20) g;
CREATE SCHEMA mainframe_central;
CREATE TABLE mainframe_central.dss_snapshots (snapshot_id int PRIMARY KEY, snapshot_name text, functional_date date, computed_date date);
INSERT INTO mainframe_central.dss_snapshots SELECT g, 'S' || g, date '2026-01-01' + g, date '2026-01-02' + g FROM generate_series(1, 12) g;
CREATE SCHEMA mainframe_local;
CREATE TABLE mainframe_local.objects (id bigint PRIMARY KEY, fullname text);
INSERT INTO mainframe_local.objects SELECT g, 'PRG' || g FROM generate_series(1, 5000) g;
CREATE SCHEMA aip_measure;
CREATE TABLE aip_measure.dss_snapshots (application_name text, snapshot_id int, snapshot_name text, functional_date date, computed_date date);
`)
	deliveryRoot := t.TempDir()
	writeTree(t, filepath.Join(deliveryRoot, "MAINFRAME"), map[string]string{
		"v1/src/PAYROLL.cbl": "IDENTIFICATION DIVISION.\nPROGRAM-ID. PAYROLL.\n",
		"v2/src/PAYROLL.cbl": "IDENTIFICATION DIVISION.\nPROGRAM-ID. PAYROLL2.\n",
	})
	backupRoot := t.TempDir()
	key := newAgeKeyFile(t, t.TempDir(), "node.key")
	vars := filepath.Join(t.TempDir(), "test.vars.hcl")
	os.WriteFile(vars, []byte(fmt.Sprintf(`
css                = { host = %q, port = %d, user = %q, dbname = %q, sslmode = "disable" }
offsite            = { endpoint = %q, region = "us-east-1", insecure = true }
delivery_root      = %q
backup_root        = %q
s3_access_key      = %q
bin_dir            = %q
daily_apps         = { MAINFRAME = "mainframe" }
offsite_recipients = [%q]
age_identity_file  = %q
`, srv.Host, srv.Port, srv.User, db, s3.URL, deliveryRoot, backupRoot, s3.AccessKey, srv.BinDir, key.public, key.file)), 0o600)
	e := &estate{
		srv: srv, db: db, dir: filepath.Join("..", "..", "examples", "cast-aip"),
		env: []string{"PLANB_VAR_css_password=" + srv.Password, "PLANB_VAR_s3_secret_key=" + s3.SecretKey},
	}
	const app = `application.daily["MAINFRAME"]`
	before := describeAll(t, e, "mainframe_mngt", "mainframe_central", "mainframe_local")
	tree := treeSnapshot(t, filepath.Join(deliveryRoot, "MAINFRAME"))

	r := e.mustPlanb(t, 0, "apply", "--auto-approve", "--var-file", vars, "--target", app, "--now", "2026-11-25T08:00:00Z")
	if !strings.Contains(r.stdout, "copy "+app+" from store.node into store.offsite") {
		t.Errorf("the bucket does not get a copy of the node's backup:\n%s", r.stdout)
	}
	r = e.mustPlanb(t, 0, "list", "--var-file", vars, app)
	for _, want := range []string{"node   MAINFRAME_2026-11-25-08-00-00.zip", "offsite  MAINFRAME_2026-11-25-08-00-00.zip"} {
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}
	e.mustPlanb(t, 0, "verify", "--var-file", vars, app)

	// Damage, then restore from the bucket.
	srv.Exec(t, db, `UPDATE mainframe_mngt.versions SET name = 'lost'; DROP TABLE mainframe_local.objects;`)
	os.Remove(filepath.Join(deliveryRoot, "MAINFRAME", "v1/src/PAYROLL.cbl"))
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	r = e.mustPlanb(t, 0, "plan", "--var-file", vars, "--restore", app, "--store", "offsite", "--out", planFile, "--now", "2026-11-25T09:00:00Z")
	if !strings.Contains(r.stdout, "restore "+app+" from store.offsite") || !strings.Contains(r.stdout, "sync_measurement") ||
		!strings.Contains(r.stdout, "options: the archive's options.xml is not written") {
		t.Errorf("restore plan:\n%s", r.stdout)
	}
	e.mustPlanb(t, 0, "apply", "--var-file", vars, planFile)
	assertSameSchemas(t, before, describeAll(t, e, "mainframe_mngt", "mainframe_central", "mainframe_local"))
	assertSameTree(t, tree, treeSnapshot(t, filepath.Join(deliveryRoot, "MAINFRAME")))
	var n int
	srv.Conn(t, db).QueryRow(context.Background(), "SELECT count(*) FROM aip_measure.dss_snapshots WHERE application_name = 'MAINFRAME'").Scan(&n)
	if n != 12 {
		t.Errorf("after_restore synchronised %d snapshots into the measurement schema, want 12", n)
	}
	// The archive in the bucket is encrypted; the node's key opens it with
	// the stock age tool.
	obj := filepath.Join(t.TempDir(), "a.zip.age")
	c := s3.Client(t)
	if err := c.FGetObject(context.Background(), "aip-backups", "prod/applications/MAINFRAME/MAINFRAME_2026-11-25-08-00-00.zip.age", obj, minio.GetObjectOptions{}); err != nil {
		t.Fatalf("get the archive from the bucket: %v", err)
	}
	sealed := mustRead(t, obj)
	if bytes.HasPrefix(sealed, []byte("PK")) || bytes.Contains(sealed, []byte("mainframe_mngt")) {
		t.Error("the bucket's archive is not encrypted")
	}
	decryptWithAge(t, sealed, key)
}
