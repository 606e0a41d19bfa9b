package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	storecatalog "github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/providers/store/s3test"
)

// twoNodes are two configurations backing up the same folder as
// persistence "files" into one shared store, as nodes node-a and node-b.
type twoNodes struct {
	a, b *fleetNode
	root string // the store's root (local stores)
	src  string // the folder backed up
	// hold, while it exists, keeps node A's backups in their after hook,
	// with the archive's partial written; node A creates started then.
	hold, started string
}

// newTwoNodes writes both configurations. storeBody is the body of store
// "shared" ("" = a local store at root), extra more HCL; owners, when not
// empty, is the owners list both give the resource. Node A keeps the last
// 3 archives, node B the last 1.
func newTwoNodes(t *testing.T, storeBody, extra, owners string, env []string) *twoNodes {
	t.Helper()
	n := &twoNodes{root: t.TempDir(), src: t.TempDir()}
	gates := t.TempDir()
	n.hold, n.started = filepath.Join(gates, "hold"), filepath.Join(gates, "started")
	writeTree(t, n.src, map[string]string{"h2/aip.mv.db": strings.Repeat("h2 data ", 500), "trace.log": "trace"})
	if storeBody == "" {
		storeBody = fmt.Sprintf("local { path = %q }", n.root)
	}
	ownersLine := ""
	if owners != "" {
		ownersLine = "owners = " + owners
	}
	write := func(node string, keepLast int) *fleetNode {
		fn := &fleetNode{dir: t.TempDir(), env: env}
		cfg := fmt.Sprintf(`
planb {
  node = %q
}

store "shared" {
  shared = true
  %s
}

persistence "files" {
  path   = %q
  every  = "24h"
  stores = [store.shared]
  %s
  retention {
    keep_last = %d
  }
  after {
    command = ["sh", "-c", "if [ -e %s ]; then touch %s; while [ -e %s ]; do sleep 0.05; done; fi"]
    timeout = "2m"
  }
}
%s`, node, storeBody, n.src, ownersLine, keepLast, n.hold, n.started, n.hold, extra)
		if err := os.WriteFile(filepath.Join(fn.dir, "node.hcl"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return fn
	}
	n.a, n.b = write("node-a", 3), write("node-b", 1)
	return n
}

// holdA starts an apply of node A as of now and returns once its archive's
// partial is written and recorded; the returned function lets it finish
// and waits for it.
func (n *twoNodes) holdA(t *testing.T, now string) func() {
	t.Helper()
	if err := os.WriteFile(n.hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(n.started)
	cmd, out, errb := n.a.command("apply", "--auto-approve", "--now", now)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- exitStatus(t, cmd.Wait()) }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(n.started); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("node A's apply ended (exit %d) before its after hook\n%s%s", code, out, errb)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("node A's apply did not reach its after hook")
		}
	}
	return func() {
		t.Helper()
		os.Remove(n.hold)
		if code := <-done; code != 0 {
			t.Fatalf("node A's held apply: exit %d\n%s%s", code, out, errb)
		}
	}
}

// archivesIn returns the files of the resource's folder in a local store.
func (n *twoNodes) archivesIn(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(n.root, "persistence", "files"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestOneResourceOneNode(t *testing.T) {
	n := newTwoNodes(t, "", "", "", nil)
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	at := func(h time.Duration) string { return t0.Add(h * time.Hour).Format(time.RFC3339) }
	name := func(h time.Duration) string { return storecatalog.ArchiveName("files", t0.Add(h*time.Hour)) }

	n.a.run(t, 0, "apply", "--auto-approve", "--now", at(0))
	n.a.run(t, 0, "apply", "--auto-approve", "--now", at(25))

	// The archives say who made them, and so does the store's record.
	m := readManifest(t, filepath.Join(n.root, "persistence", "files", name(25)))
	if m.Node != "node-a" {
		t.Errorf("manifest node %q, want node-a", m.Node)
	}
	var rec struct {
		Archives []struct{ Archive, Node string }
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(n.root, "records", "persistence", "files", "nodes.json")), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Archives) != 2 || rec.Archives[0].Archive != name(0) || rec.Archives[1].Node != "node-a" {
		t.Errorf("nodes record: %+v", rec)
	}

	// Node B is configured with the same resource by mistake, with a
	// stricter retention: its plan is refused, naming node A and the ways
	// out, and its apply deletes and writes nothing.
	want := n.archivesIn(t)
	r := n.b.run(t, 1, "plan", "--now", at(26))
	for _, w := range []string{
		"another node backs up what this node (node-b) backs up:",
		"persistence.files in store.shared: node node-a wrote 2 archive(s), the newest " + name(25),
		`its owners there are ["node-b"]`,
		`owners = ["node-b", "node-a"]`,
		`planb { node = "node-a" }`,
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("plan of node B does not say %q:\n%s", w, r.stderr)
		}
	}
	n.b.run(t, 1, "apply", "--auto-approve", "--now", at(26))
	n.b.run(t, 1, "plan", "--json", "--now", at(50))
	if got := n.archivesIn(t); !slices.Equal(got, want) {
		t.Errorf("node B changed the store: %v, was %v", got, want)
	}
	// Node A, which was first, goes on undisturbed.
	n.a.run(t, 0, "plan", "--detailed-exitcode", "--now", at(26))

	// list says whose the archives are where another node looks.
	if r := n.b.run(t, 0, "list"); !strings.Contains(r.stdout, name(25)) || !strings.Contains(r.stdout, "complete (node node-a)") {
		t.Errorf("list of node B:\n%s", r.stdout)
	}
	if r := n.a.run(t, 0, "list"); strings.Contains(r.stdout, "(node ") {
		t.Errorf("list of node A names its own node:\n%s", r.stdout)
	}
	var listed struct {
		Archives []struct{ Archive, Node string }
	}
	if err := json.Unmarshal([]byte(n.b.run(t, 0, "list", "--json").stdout), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Archives) != 2 || listed.Archives[1].Node != "node-a" {
		t.Errorf("list --json: %+v", listed)
	}

	// An upload of node A under way is node A's: node B's plan names it
	// and cleans nothing.
	finish := n.holdA(t, at(50))
	partial := name(50) + store.PartialSuffix
	if got := n.archivesIn(t); !slices.Contains(got, partial) {
		t.Fatalf("no partial while node A writes: %v", got)
	}
	r = n.b.run(t, 1, "plan", "--now", at(50))
	if !strings.Contains(r.stderr, "node node-a wrote 2 archive(s), the newest "+name(25)+" and 1 upload(s) under way or left over") {
		t.Errorf("plan of node B during node A's upload:\n%s", r.stderr)
	}
	finish()
	if got := n.archivesIn(t); !slices.Contains(got, name(50)) || len(got) != 3 {
		t.Errorf("node A's archives: %v", got)
	}
}

func TestFailoverPairSharesArchives(t *testing.T) {
	n := newTwoNodes(t, "", "", `["node-a", "node-b"]`, nil)
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	at := func(h time.Duration) string { return t0.Add(h * time.Hour).Format(time.RFC3339) }
	name := func(h time.Duration) string { return storecatalog.ArchiveName("files", t0.Add(h*time.Hour)) }

	n.a.run(t, 0, "apply", "--auto-approve", "--now", at(0))
	// Node A's backup is the pair's: nothing is due on node B.
	n.b.run(t, 0, "plan", "--detailed-exitcode", "--now", at(1))

	// A day later node B backs up, and its retention (keep the last one)
	// prunes the pair's older archive, node A's.
	r := n.b.run(t, 0, "apply", "--auto-approve", "--now", at(25))
	if !strings.Contains(r.stdout, "delete "+name(0)) {
		t.Errorf("apply of node B:\n%s", r.stdout)
	}
	if got := n.archivesIn(t); !slices.Equal(got, []string{name(25)}) {
		t.Errorf("archives after node B's apply: %v", got)
	}
	if m := readManifest(t, filepath.Join(n.root, "persistence", "files", name(25))); m.Node != "node-b" {
		t.Errorf("manifest node %q, want node-b", m.Node)
	}

	// An upload of node A under way is never cleaned by node B: node A
	// holds the lock.
	finish := n.holdA(t, at(50))
	r = n.b.run(t, 0, "plan", "--now", at(50))
	if !strings.Contains(r.stdout, "Partial archives not cleaned:\n  persistence.files in store.shared: "+name(50)+store.PartialSuffix+", being written by") ||
		strings.Contains(r.stdout, "clean persistence.files") {
		t.Errorf("plan of node B during node A's upload:\n%s", r.stdout)
	}
	finish()
	// Node A's new archive is the pair's newest: node B's retention
	// prunes its own older one.
	r = n.b.run(t, 2, "plan", "--detailed-exitcode", "--now", at(51))
	if !strings.Contains(r.stdout, "delete "+name(25)) || strings.Contains(r.stdout, "backup persistence.files") {
		t.Errorf("plan of node B after node A's backup:\n%s", r.stdout)
	}
}

// TestOneResourceOneNodeS3 is TestOneResourceOneNode's refusal in a
// bucket: the record lives there too.
func TestOneResourceOneNodeS3(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "fleet")
	body := fmt.Sprintf(`s3 {
    endpoint   = %q
    bucket     = "fleet"
    prefix     = "aip/"
    access_key = %q
    secret_key = var.s3_secret
  }`, s3.URL, s3.AccessKey)
	secret := `
variable "s3_secret" {
  type      = string
  sensitive = true
}
`
	n := newTwoNodes(t, body, secret, "", []string{"PLANB_VAR_s3_secret=" + s3.SecretKey})
	n.a.run(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z")
	r := n.b.run(t, 1, "apply", "--auto-approve", "--now", "2026-11-26T09:00:00Z")
	if !strings.Contains(r.stderr, "persistence.files in store.shared: node node-a wrote 1 archive(s), the newest files_2026-11-25-08-00-00.zip") {
		t.Errorf("apply of node B:\n%s", r.stderr)
	}
	rows := n.a.fleetListing(t)
	if len(rows) != 1 || rows[0] != "shared persistence/files files_2026-11-25-08-00-00.zip complete" {
		t.Errorf("list: %v", rows)
	}
}

func readManifest(t *testing.T, path string) *archive.Manifest {
	t.Helper()
	data := mustRead(t, path)
	rd, err := archive.Open(strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := rd.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
