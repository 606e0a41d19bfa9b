package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A test restore that cannot be made (a user without CREATEDB) is reported
// as UNCHECKED with exit 4, not as a damaged archive.
func TestVerifyDeepWithoutCreatedbIsUnchecked(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	e.srv.Exec(t, e.db, `DO $$BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'planb_reader') THEN
			CREATE ROLE planb_reader LOGIN PASSWORD 'reader-secret' NOCREATEDB;
		END IF; END$$`)
	cfgPath := filepath.Join(e.dir, "estate.hcl")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	limited := strings.Replace(string(cfg), "password = var.css_password", `password = "reader-secret"`, 1)
	limited = strings.Replace(limited, "user     = \""+e.srv.User+"\"", `user     = "planb_reader"`, 1)
	if limited == string(cfg) || !strings.Contains(limited, "planb_reader") {
		t.Fatalf("could not rewrite the database block:\n%s", cfg)
	}
	if err := os.WriteFile(cfgPath, []byte(limited), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.mustPlanb(t, 4, "verify", "--deep", "application.legacy")
	if !strings.Contains(r.stdout, "UNCHECKED") || !strings.Contains(r.stdout, "CREATEDB") || strings.Contains(r.stdout, "FAILED") {
		t.Fatalf("verify --deep without CREATEDB:\n%s", r.stdout)
	}
	// Without --deep the same archive verifies.
	e.mustPlanb(t, 0, "verify", "application.legacy")
}
