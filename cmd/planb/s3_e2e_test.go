package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/providers/postgres/pgtest"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/s3test"
)

// fleetNode is one planb node of a fleet: a configuration directory whose
// resources go to a shared S3 store "fleet".
type fleetNode struct {
	dir string
	env []string
}

// newFleetNode writes a configuration backing up the given application
// blocks of the estate's database into bucket "fleet" under prefix "aip/".
// The S3 secret key comes from a sensitive variable.
func newFleetNode(t *testing.T, e *estate, s3 *s3test.Server, applications string) *fleetNode {
	t.Helper()
	n := &fleetNode{dir: t.TempDir()}
	n.env = append(append([]string{}, e.env...), "PLANB_VAR_s3_secret="+s3.SecretKey)
	cfg := e.databaseHCL() + fmt.Sprintf(`
variable "s3_secret" {
  type      = string
  sensitive = true
}

store "fleet" {
  shared = true
  s3 {
    endpoint   = %q
    bucket     = "fleet"
    prefix     = "aip/"
    access_key = %q
    secret_key = var.s3_secret
  }
}
%s`, s3.URL, s3.AccessKey, applications)
	if err := os.WriteFile(filepath.Join(n.dir, "node.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

const fleetShop = `
application "shop" {
  database = database.css
  schemas  = { management = "shop_mngt", dashboard = "shop_central", analysis = "shop_local" }
  every    = "24h"
  stores   = [store.fleet]
}
`

const fleetLegacy = `
application "legacy" {
  database = database.css
  schemas  = { management = "Legacy-Mngt", dashboard = "Legacy Central", analysis = "Legacy.Local" }
  every    = "24h"
  stores   = [store.fleet]
}
`

// command returns the planb child process of this node.
func (n *fleetNode) command(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(planbBin, append([]string{"--chdir", n.dir}, args...)...)
	cmd.Env = append(os.Environ(), n.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

func (n *fleetNode) run(t *testing.T, want int, args ...string) result {
	t.Helper()
	cmd, out, errb := n.command(args...)
	r := result{code: exitStatus(t, cmd.Run()), stdout: out.String(), stderr: errb.String()}
	if r.code != want {
		t.Fatalf("planb %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run planb: %v", err)
	}
	return 0
}

// fleetListing runs list --json and returns "folder archive status" rows.
func (n *fleetNode) fleetListing(t *testing.T) []string {
	t.Helper()
	r := n.run(t, 0, "list", "--json")
	var doc struct {
		FormatVersion string `json:"format_version"`
		Archives      []struct {
			Folder, Archive, Status, Store string
		} `json:"archives"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	var rows []string
	for _, a := range doc.Archives {
		rows = append(rows, fmt.Sprintf("%s %s %s %s", a.Store, a.Folder, a.Archive, a.Status))
	}
	sort.Strings(rows)
	return rows
}

func TestS3FleetEndToEnd(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "fleet")
	e := newEstate(t, "")
	nodeA := newFleetNode(t, e, s3, fleetShop)
	nodeB := newFleetNode(t, e, s3, fleetLegacy)
	now := "2026-11-25T08:00:00Z"

	r := nodeA.run(t, 2, "plan", "--detailed-exitcode", "--now", now)
	if !strings.Contains(r.stdout, "backup application.shop into store.fleet") {
		t.Errorf("plan of node A:\n%s", r.stdout)
	}

	// Two nodes back up different applications into one bucket at once.
	var cmds []*exec.Cmd
	var outs, errs []*bytes.Buffer
	for _, n := range []*fleetNode{nodeA, nodeB} {
		cmd, out, errb := n.command("apply", "--auto-approve", "--now", now)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs, errs = append(cmds, cmd), append(outs, out), append(errs, errb)
	}
	for i, cmd := range cmds {
		if code := exitStatus(t, cmd.Wait()); code != 0 {
			t.Fatalf("node %d: apply exit %d\nstdout:\n%s\nstderr:\n%s", i, code, outs[i], errs[i])
		}
	}

	want := []string{
		"fleet applications/legacy legacy_2026-11-25-08-00-00.zip complete",
		"fleet applications/shop shop_2026-11-25-08-00-00.zip complete",
	}
	// Each node sees both archives; the other node's resource is not in its
	// configuration, and the store is shared, so it lists as foreign.
	for name, c := range map[string]struct {
		node    *fleetNode
		foreign string
	}{
		"node A": {nodeA, "legacy"},
		"node B": {nodeB, "shop"},
	} {
		got := c.node.fleetListing(t)
		if len(got) != 2 {
			t.Fatalf("%s lists %v, want both archives", name, got)
		}
		for i, row := range got {
			w := want[i]
			if strings.Contains(w, c.foreign) {
				w = strings.Replace(w, "complete", "foreign", 1)
			}
			if row != w {
				t.Errorf("%s lists %q, want %q", name, row, w)
			}
		}
	}
	r = nodeA.run(t, 0, "list")
	if !strings.Contains(r.stdout, "shop_2026-11-25-08-00-00.zip") || !strings.Contains(r.stdout, "legacy_2026-11-25-08-00-00.zip") {
		t.Errorf("list of node A:\n%s", r.stdout)
	}

	// The catalog is the bucket: nothing is due on either node, and the
	// archives verify by reading them from S3.
	nodeA.run(t, 0, "plan", "--detailed-exitcode", "--now", "2026-11-25T09:00:00Z")
	nodeB.run(t, 0, "plan", "--detailed-exitcode", "--now", "2026-11-25T09:00:00Z")
	nodeA.run(t, 0, "verify", "application.shop")
	nodeB.run(t, 0, "verify", "application.legacy")

	// The archive in the bucket is a ZIP that unzip accepts.
	zipPath := filepath.Join(t.TempDir(), "shop.zip")
	ctx := context.Background()
	if err := s3.Client(t).FGetObject(ctx, "fleet", "aip/applications/shop/shop_2026-11-25-08-00-00.zip", zipPath, minio.GetObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unzip", "-t", zipPath).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}

	// Restore from the bucket: node B restores legacy into a copy database
	// (ranged reads of the archive, checksums verified first).
	copyDB := e.srv.CreateDatabase(t, "fleetcopy")
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	nodeB.run(t, 0, "plan", "--restore", "application.legacy", "--store", "fleet", "--to-database", copyDB, "--out", planFile)
	nodeB.run(t, 0, "apply", planFile)
	for _, schema := range []string{"Legacy-Mngt", "Legacy Central", "Legacy.Local"} {
		want, err := postgres.Describe(ctx, e.srv.Conn(t, e.db), schema)
		if err != nil {
			t.Fatal(err)
		}
		got, err := postgres.Describe(ctx, e.srv.Conn(t, copyDB), schema)
		if err != nil {
			t.Fatal(err)
		}
		if d := want.Diff(got); len(d) > 0 {
			t.Errorf("schema %s restored from S3 differs:\n%s", schema, strings.Join(d, "\n"))
		}
	}

	// The secret key never shows.
	for _, args := range [][]string{{"plan", "--json", "--now", now}, {"list", "--json"}, {"apply", "--auto-approve", "--log-level", "debug", "--now", "2026-11-26T09:00:00Z"}} {
		r := nodeA.run(t, 0, args...)
		if strings.Contains(r.stdout+r.stderr, s3.SecretKey) {
			t.Errorf("planb %s prints the S3 secret key", strings.Join(args, " "))
		}
	}
}

func TestS3FleetLockedApplication(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "fleet")
	e := newEstate(t, "")
	node := newFleetNode(t, e, s3, fleetShop)
	now := "2026-11-25T08:00:00Z"

	// Another node holds the lock of application shop in the bucket.
	other, err := store.NewS3("fleet", store.S3Options{Endpoint: s3.URL, Bucket: "fleet", Prefix: "aip/", AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lk, err := other.Lock(ctx, store.Ref{Kind: store.KindApplications, Name: "shop"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := node.run(t, 11, "apply", "--auto-approve", "--now", now)
	host, _ := os.Hostname()
	if want := fmt.Sprintf("locked by pid %d on host %s", os.Getpid(), host); !strings.Contains(r.stderr, want) {
		t.Errorf("apply on a locked application does not name the holder (%q):\n%s", want, r.stderr)
	}
	if got := node.fleetListing(t); len(got) != 0 {
		t.Errorf("the locked apply wrote %v", got)
	}

	lk.Unlock()

	// Two planb processes on the same configuration: the second one,
	// started while the first holds the lock of a resource it still has to
	// back up (a persistence folder whose before hook takes seconds), exits
	// 11.
	h2 := t.TempDir()
	writeTree(t, h2, map[string]string{"aip.mv.db": "h2 data"})
	slow := newFleetNode(t, e, s3, fleetShop+fmt.Sprintf(`
persistence "node1" {
  path   = %q
  every  = "24h"
  stores = [store.fleet]
  before {
    command = ["sleep", "4"]
  }
}
`, h2))
	first, out1, err1 := slow.command("apply", "--auto-approve", "--now", now)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		obj, err := s3.Client(t).GetObject(ctx, "fleet", "aip/locks/persistence/node1.lock", minio.GetObjectOptions{})
		var holder struct{ PID int }
		if err == nil {
			json.NewDecoder(obj).Decode(&holder)
			obj.Close()
		}
		if holder.PID == first.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("the first apply never took the lock\nstderr:\n%s", err1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	second := slow.run(t, 11, "apply", "--auto-approve", "--now", now)
	if !strings.Contains(second.stderr, fmt.Sprintf("locked by pid %d", first.Process.Pid)) {
		t.Errorf("the second apply does not name the first:\n%s", second.stderr)
	}
	if code := exitStatus(t, first.Wait()); code != 0 {
		t.Fatalf("first apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out1, err1)
	}
	want := []string{
		"fleet applications/shop shop_2026-11-25-08-00-00.zip complete",
		"fleet persistence/node1 node1_2026-11-25-08-00-00.zip complete",
	}
	if got := slow.fleetListing(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the two applies: %v, want %v", got, want)
	}
}

func TestS3StoreErrorsNameTheStore(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "fleet")
	srv := pgtest.Start(t)
	e := &estate{srv: srv, db: "postgres", env: []string{"PLANB_VAR_css_password=" + srv.Password}}
	for name, c := range map[string]struct {
		secret string
		bucket string
		want   string
	}{
		"wrong secret key": {"not-the-secret", "fleet", s3.URL + " refused the credentials (SignatureDoesNotMatch"},
		"missing bucket":   {s3.SecretKey, "nope", `bucket "nope" does not exist at ` + s3.URL},
	} {
		t.Run(name, func(t *testing.T) {
			node := newFleetNode(t, e, s3, fleetShop)
			node.env = append(node.env, "PLANB_VAR_s3_secret="+c.secret)
			if c.bucket != "fleet" {
				cfg := filepath.Join(node.dir, "node.hcl")
				os.WriteFile(cfg, bytes.Replace(mustRead(t, cfg), []byte(`bucket     = "fleet"`), []byte(`bucket     = "`+c.bucket+`"`), 1), 0o644)
			}
			for _, args := range [][]string{{"list"}, {"plan", "--now", "2026-11-25T08:00:00Z"}} {
				r := node.run(t, 1, args...)
				if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, `store "fleet"`) {
					t.Errorf("planb %s: stderr lacks %q and the store's name:\n%s", args[0], c.want, r.stderr)
				}
				if strings.Contains(r.stdout+r.stderr, c.secret) {
					t.Errorf("planb %s prints the secret key", args[0])
				}
			}
		})
	}
}
