package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNewVersionTriggersBackup backs shop up, delivers a new version
// folder and checks that the next plan makes shop due with the version's
// name, and only shop: legacy has no delivery folder.
func TestNewVersionTriggersBackup(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")

	// The archive's manifest lists the versions it holds.
	archive := zips(t, e.backups, "applications/shop")[0]
	out, err := exec.Command("unzip", "-p", archive, "manifest.json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Delivery struct{ Versions []string } `json:"delivery"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if want := []string{"v1", "v2"}; !slices.Equal(m.Delivery.Versions, want) {
		t.Errorf("manifest lists versions %v, want %v", m.Delivery.Versions, want)
	}

	writeTree(t, e.delivery, map[string]string{"v3/src/MAIN.cob": "PROGRAM-ID. MAIN3.\n"})
	r := e.mustPlanb(t, 2, "plan", "--detailed-exitcode", "--now", "2026-11-25T09:00:00Z")
	if !strings.Contains(r.stdout, "new version v3 delivered") {
		t.Fatalf("plan after a new version lacks the reason:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "Plan: 3 to back up") {
		t.Errorf("plan: want shop and the two resources never backed up:\n%s", r.stdout)
	}

	// Once the new version is backed up, nothing is due.
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")
	e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--target", "application.shop", "--now", "2026-11-25T10:00:00Z")
}

// TestNewVersionOptOut: with on_new_version = false a new version folder
// makes nothing due.
func TestNewVersionOptOut(t *testing.T) {
	e := newEstate(t, "")
	cfg := filepath.Join(e.dir, "estate.hcl")
	src := bytes.Replace(mustRead(t, cfg), []byte("  delivery_folder = "), []byte("  on_new_version  = false\n  delivery_folder = "), 1)
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	writeTree(t, e.delivery, map[string]string{"v3/src/MAIN.cob": "PROGRAM-ID. MAIN3.\n"})
	r := e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")
	if strings.Contains(r.stdout, "new version") {
		t.Errorf("on_new_version = false, yet:\n%s", r.stdout)
	}
}
