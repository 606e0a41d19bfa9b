package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store/s3test"
)

// offsiteEstate is the estate with a second store, the S3 bucket
// "offsite" on s3, into which shop is also backed up and where it keeps
// one archive (keep_last = 1), as in store.node.
func offsiteEstate(t *testing.T, s3 *s3test.Server) *estate {
	t.Helper()
	s3.CreateBucket(t, "offsite")
	e := newEstate(t, `
variable "s3_secret" {
  type      = string
  sensitive = true
}

store "offsite" {
  s3 {
    endpoint   = "`+s3.URL+`"
    bucket     = "offsite"
    access_key = "`+s3.AccessKey+`"
    secret_key = var.s3_secret
  }
}
`)
	e.env = append(e.env, "PLANB_VAR_s3_secret="+s3.SecretKey)
	cfg := filepath.Join(e.dir, "estate.hcl")
	old := "  every  = \"24h\"\n  stores = [store.node]\n\n  after_restore"
	data := string(mustRead(t, cfg))
	if !strings.Contains(data, old) {
		t.Fatal("the estate's configuration changed: shop's stores not found")
	}
	data = strings.Replace(data, old, "  every  = \"24h\"\n  retention { keep_last = 1 }\n  stores = [store.node, store.offsite]\n\n  after_restore", 1)
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// bucketFiles returns every file of a versitygw data folder with its size
// and modification time: what a store could change.
func bucketFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%s %d", fi.ModTime().UTC().Format(time.RFC3339Nano), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameFiles reports how after differs from before, or "".
func sameFiles(before, after map[string]string) string {
	var diffs []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, "removed "+p)
		} else if a != b {
			diffs = append(diffs, "changed "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p)
		}
	}
	return strings.Join(diffs, "\n")
}

// TestUnreachableStoreFailsOnlyItsOwnWork backs shop up into a local store
// and an S3 store, then stops the S3 server (its port is closed): plan
// shows shop unknown there and plans the local store, apply backs up and
// prunes in the local store and exits 1 naming the unreachable one, list
// shows the local archives; nothing in the S3 store is pruned, copied or
// marked, and once it is back, plans copy into it. A saved plan made while
// both stores answered does its local work when the S3 store is gone.
func TestUnreachableStoreFailsOnlyItsOwnWork(t *testing.T) {
	s3 := s3test.Start(t)
	e := offsiteEstate(t, s3)
	day1 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	at := func(d time.Time) string { return d.Format(time.RFC3339) }
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", at(day1))
	if got := len(zips(t, e.backups, "applications/shop")); got != 1 {
		t.Fatalf("store.node holds %d archives of shop after day 1, want 1", got)
	}
	before := bucketFiles(t, filepath.Join(s3.Dir, "offsite"))
	if len(before) == 0 {
		t.Fatal("the S3 store holds nothing after day 1")
	}

	s3.Stop()
	day3 := day1.Add(49 * time.Hour)
	refused := "could not connect to " + s3.URL + ": connection refused"
	r := e.mustPlanb(t, exitUnreadable, "plan", "--now", at(day3))
	for _, want := range []string{
		"+ backup application.shop into store.node\n",
		"- prune application.shop in store.node",
		"  application.shop in store.offsite: unknown: store unreachable (" + refused + ")\n",
		"1 unknown.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, work := range []string{"from store.offsite", "into store.offsite", "prune application.shop in store.offsite", "clean application.shop in store.offsite"} {
		if strings.Contains(r.stdout, work) {
			t.Errorf("plan has work in the unreachable store (%s):\n%s", work, r.stdout)
		}
	}
	if want := "store.offsite could not be reached (" + refused + "): nothing is planned there for application.shop"; !strings.Contains(r.stderr, want) {
		t.Errorf("plan's stderr lacks %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "amazonaws") {
		t.Errorf("the error names an AWS host instead of the configured endpoint:\n%s", r.stderr)
	}

	r = e.mustPlanb(t, exitUnreadable, "plan", "--json", "--now", at(day3))
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.stdout)
	}
	if len(p.Unreachable) != 1 || p.Unreachable[0].Store != "offsite" || p.Unreachable[0].Error != refused {
		t.Errorf("unreachable_stores %+v", p.Unreachable)
	}
	unknown := 0
	for _, st := range p.Resources {
		if st.Store == "offsite" {
			unknown++
			if st.Status != plan.StatusUnknown || st.Unreachable != "store unreachable ("+refused+")" {
				t.Errorf("shop in store.offsite: status %q, unreachable %q", st.Status, st.Unreachable)
			}
		}
	}
	if unknown != 1 {
		t.Errorf("%d resource states in store.offsite, want 1 (shop)", unknown)
	}
	for _, a := range p.Actions {
		if a.Store == "offsite" || a.FromStore == "offsite" {
			t.Errorf("action %q involves the unreachable store", a.ID)
		}
	}

	r = e.mustPlanb(t, exitError, "apply", "--auto-approve", "--now", at(day3))
	if want := "store.offsite could not be reached (" + refused + "): nothing is planned there for application.shop"; !strings.Contains(r.stderr, want) {
		t.Errorf("apply's stderr lacks %q:\n%s", want, r.stderr)
	}
	shop := zips(t, e.backups, "applications/shop")
	if len(shop) != 1 || filepath.Base(shop[0]) != "shop_2026-11-27-09-00-00.zip" {
		t.Errorf("store.node holds %v of shop, want day 3's backup alone (day 1's pruned)", shop)
	}
	if got := len(zips(t, e.backups, "applications/legacy")); got != 2 {
		t.Errorf("store.node holds %d archives of legacy, want 2: resources without the unreachable store are backed up", got)
	}

	r = e.mustPlanb(t, exitUnreadable, "list")
	if !strings.Contains(r.stdout, "shop_2026-11-27-09-00-00.zip") || !strings.Contains(r.stderr, "store.offsite could not be reached ("+refused+"): its archives are not listed") {
		t.Errorf("list does not show store.node and name store.offsite:\n%s%s", r.stdout, r.stderr)
	}

	s3.Restart(t)
	if d := sameFiles(before, bucketFiles(t, filepath.Join(s3.Dir, "offsite"))); d != "" {
		t.Errorf("the unreachable store changed:\n%s", d)
	}
	r = e.mustPlanb(t, 0, "plan", "--now", at(day3))
	if !strings.Contains(r.stdout, "> copy application.shop from store.node into store.offsite") {
		t.Errorf("once reachable, the store does not get a copy:\n%s", r.stdout)
	}

	// A saved plan that copies into store.offsite, applied while it is
	// gone: the copy fails, the rest is done.
	saved := filepath.Join(t.TempDir(), "day4.plan")
	day4 := day3.Add(25 * time.Hour)
	e.mustPlanb(t, 0, "plan", "--now", at(day4), "--out", saved)
	before = bucketFiles(t, filepath.Join(s3.Dir, "offsite"))
	s3.Stop()
	r = e.mustPlanb(t, exitError, "apply", saved)
	if want := "Warning: store.offsite cannot be reached now (" + refused + ")"; !strings.Contains(r.stderr, want) {
		t.Errorf("apply of the saved plan does not warn %q:\n%s", want, r.stderr)
	}
	shop = zips(t, e.backups, "applications/shop")
	if len(shop) != 1 || filepath.Base(shop[0]) != "shop_2026-11-28-10-00-00.zip" {
		t.Errorf("store.node holds %v of shop, want day 4's backup alone", shop)
	}
	s3.Restart(t)
	if d := sameFiles(before, bucketFiles(t, filepath.Join(s3.Dir, "offsite"))); d != "" {
		t.Errorf("the unreachable store changed:\n%s", d)
	}
}

// TestUnreadableLocalStoreFailsOnlyItsOwnWork: a local store whose folder
// cannot be read is unreachable like an S3 endpoint that refuses: the
// other store is planned and backed up into, and apply exits 1 naming it.
func TestUnreadableLocalStoreFailsOnlyItsOwnWork(t *testing.T) {
	good, bad, data := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, data, map[string]string{"h2/node.mv.db": "H2 database"})
	// A kind folder that is a file cannot be listed, whoever runs the
	// test (root reads folders without permissions).
	if err := os.WriteFile(filepath.Join(bad, "persistence"), []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, map[string]string{"main.hcl": `
store "good" {
  local { path = "` + good + `" }
}

store "bad" {
  local { path = "` + bad + `" }
}

persistence "node" {
  path   = "` + filepath.Join(data, "h2") + `"
  every  = "24h"
  stores = [store.good, store.bad]
}
`})
	why := "store unreachable (cannot read " + bad + ": "
	code, out, errs := planbRun(t, "", "--chdir", dir, "plan")
	if code != exitUnreadable || !strings.Contains(out, "+ backup persistence.node into store.good") ||
		!strings.Contains(out, "persistence.node in store.bad: unknown: "+why) {
		t.Errorf("plan: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = planbRun(t, "", "--chdir", dir, "apply", "--auto-approve")
	if code != exitError || !strings.Contains(errs, "store.bad could not be reached (cannot read "+bad+": ") {
		t.Errorf("apply: exit %d, want %d naming store.bad\n%s%s", code, exitError, out, errs)
	}
	if got := len(zips(t, good, "persistence/node")); got != 1 {
		t.Errorf("store.good holds %d archives of node, want 1", got)
	}
}
