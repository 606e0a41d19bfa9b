package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
	"github.com/planb-backup/planb/providers/store/s3test"
)

// ageKey is an age identity written to a file.
type ageKey struct {
	file, public, secret string
}

func newAgeKeyFile(t *testing.T, dir, name string) ageKey {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k := ageKey{file: filepath.Join(dir, name), public: id.Recipient().String(), secret: id.String()}
	if err := os.WriteFile(k.file, []byte("# "+k.public+"\n"+k.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	ageOnce sync.Once
	ageBin  string
	ageErr  error
)

// ageBinary returns the stock age command: from PATH, else built from the
// module (go install filippo.io/age/cmd/age@v1.3.2 into a temporary folder).
func ageBinary(t *testing.T) string {
	t.Helper()
	ageOnce.Do(func() {
		if p, err := exec.LookPath("age"); err == nil {
			ageBin = p
			return
		}
		dir, err := os.MkdirTemp("", "planb-age-")
		if err != nil {
			ageErr = err
			return
		}
		cmd := exec.Command("go", "install", "filippo.io/age/cmd/age@v1.3.2")
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			ageErr = fmt.Errorf("go install filippo.io/age/cmd/age: %v\n%s", err, out)
			return
		}
		ageBin = filepath.Join(dir, "age")
	})
	if ageErr != nil {
		pgtest.Missing(t, "the age command is not installed and could not be built: %v", ageErr)
	}
	return ageBin
}

// sealedStore is where an encrypted store of the test keeps its bytes.
type sealedStore struct {
	hcl string
	// objects lists the stored archives (names below
	// applications/shop/); read returns one's bytes.
	objects func(t *testing.T) []string
	read    func(t *testing.T, name string) []byte
	// all returns every object of the store (archives, records, locks)
	// by key.
	all func(t *testing.T) map[string][]byte
}

func localSealed(t *testing.T, root string) sealedStore {
	return sealedStore{
		hcl: fmt.Sprintf("local { path = %q }", root),
		objects: func(t *testing.T) []string {
			m, _ := filepath.Glob(filepath.Join(root, "applications", "shop", "*"))
			var out []string
			for _, p := range m {
				out = append(out, filepath.Base(p))
			}
			sort.Strings(out)
			return out
		},
		read: func(t *testing.T, name string) []byte {
			return mustRead(t, filepath.Join(root, "applications", "shop", name))
		},
		all: func(t *testing.T) map[string][]byte {
			out := map[string][]byte{}
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					out[p] = mustRead(t, p)
				}
				return nil
			})
			return out
		},
	}
}

func s3Sealed(t *testing.T, srv *s3test.Server, bucket string) sealedStore {
	c := srv.Client(t)
	get := func(t *testing.T, key string) []byte {
		obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	keys := func(prefix string) []string {
		var out []string
		for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			out = append(out, o.Key)
		}
		sort.Strings(out)
		return out
	}
	return sealedStore{
		hcl: fmt.Sprintf(`s3 {
    endpoint   = %q
    bucket     = %q
    prefix     = "vault/"
    access_key = %q
    secret_key = %q
    insecure   = true
  }`, srv.URL, bucket, srv.AccessKey, srv.SecretKey),
		objects: func(t *testing.T) []string {
			var out []string
			for _, k := range keys("vault/applications/shop/") {
				out = append(out, strings.TrimPrefix(k, "vault/applications/shop/"))
			}
			return out
		},
		read: func(t *testing.T, name string) []byte { return get(t, "vault/applications/shop/"+name) },
		all: func(t *testing.T) map[string][]byte {
			out := map[string][]byte{}
			for _, k := range keys("") {
				out[k] = get(t, k)
			}
			return out
		},
	}
}

// sealedEstate is the estate with application shop backed up into an
// encrypted store "vault", keeping one backup; store "node" (plain) and
// "vault2" (local, encrypted to the same keys, listed in another order)
// are declared for copies. The node's key and an escrow key are recipients;
// var.age_identity (unset for a writer) names the identity file.
type sealedEstate struct {
	*estate
	vault        sealedStore
	node, escrow ageKey
	// outputs collects everything planb printed, to check that no secret
	// key appears in it.
	outputs []string
}

func newSealedEstate(t *testing.T, vault sealedStore) *sealedEstate {
	t.Helper()
	e := newEstate(t, "")
	keys := t.TempDir()
	s := &sealedEstate{estate: e, vault: vault,
		node: newAgeKeyFile(t, keys, "node.key"), escrow: newAgeKeyFile(t, keys, "escrow.key")}
	if err := os.WriteFile(filepath.Join(e.dir, "escrow.pub"), []byte("# escrow key, kept offline\n"+s.escrow.public+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := e.databaseHCL() + fmt.Sprintf(`
variable "age_identity" {
  type    = string
  default = null
}

store "node" {
  local { path = %q }
}

store "vault2" {
  local { path = %q }
  encryption {
    recipients    = [file("escrow.pub"), %q]
    identity_file = var.age_identity
  }
}

store "vault" {
  %s
  encryption {
    recipients    = [%q, file("escrow.pub")]
    identity_file = var.age_identity
  }
}

application "shop" {
  database        = database.css
  schemas         = { management = "shop_mngt", dashboard = "shop_central", analysis = "shop_local" }
  delivery_folder = %q
  every           = "24h"
  retention {
    keep_last = 1
  }
  stores = [store.vault]
}
`, e.backups, e.second, s.node.public, vault.hcl, s.node.public, e.delivery)
	if err := os.WriteFile(filepath.Join(e.dir, "estate.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// setStores makes list the stores of application shop.
func (s *sealedEstate) setStores(t *testing.T, list string) {
	t.Helper()
	path := filepath.Join(s.dir, "estate.hcl")
	cfg := string(mustRead(t, path))
	i := strings.LastIndex(cfg, "stores = [")
	j := strings.Index(cfg[i:], "]")
	if err := os.WriteFile(path, []byte(cfg[:i]+"stores = "+list+cfg[i+j+1:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// as runs planb with identity file id ("" for a writer without any) and
// expects exit code want.
func (s *sealedEstate) as(t *testing.T, id string, want int, args ...string) result {
	t.Helper()
	env := s.env
	s.env = append(append([]string{}, env...), "PLANB_VAR_age_identity="+id)
	if id == "" {
		s.env = env
	}
	defer func() { s.env = env }()
	r := s.mustPlanb(t, want, args...)
	s.outputs = append(s.outputs, r.stdout, r.stderr)
	return r
}

// assertSealed checks that an archive as stored is an age file, not a ZIP,
// holding no schema name, file name or data of the estate.
func assertSealed(t *testing.T, name string, b []byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) || bytes.HasPrefix(b, []byte("PK")) {
		t.Errorf("%s is not an age file: starts %q", name, b[:min(len(b), 30)])
	}
	for _, leak := range []string{"shop_mngt", "shop_central", "shop_local", "PROGRAM-ID", "delivery text", "MAIN.cob", "manifest.json", "PK\x03\x04"} {
		if bytes.Contains(b, []byte(leak)) {
			t.Errorf("%s holds %q in the clear", name, leak)
		}
	}
}

// decryptWithAge decrypts an archive with the stock age command and the
// escrow key, and checks the result with unzip -t.
func decryptWithAge(t *testing.T, sealed []byte, key ageKey) {
	t.Helper()
	if _, err := exec.LookPath("unzip"); err != nil {
		pgtest.Missing(t, "unzip is not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "a.zip.age"), filepath.Join(dir, "a.zip")
	os.WriteFile(in, sealed, 0o600)
	if b, err := exec.Command(ageBinary(t), "-d", "-i", key.file, "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("age -d -i escrow.key: %v\n%s", err, b)
	}
	if b, err := exec.Command("unzip", "-tq", out).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t of what age decrypted: %v\n%s", err, b)
	}
}

// backupTwiceAndPrune runs the writer's part: two backups a day apart,
// the second pruning the first, without any identity. It returns the name
// of the remaining archive as stored.
func (s *sealedEstate) backupTwiceAndPrune(t *testing.T) string {
	t.Helper()
	r := s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	if got := s.vault.objects(t); len(got) != 1 || got[0] != "shop_2026-11-25-08-00-00.zip.age" {
		t.Fatalf("after the first backup the vault holds %q\n%s", got, r.stdout)
	}
	r = s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-26T09:00:00Z")
	if !strings.Contains(r.stdout, "prune") {
		t.Errorf("the second apply does not prune:\n%s", r.stdout)
	}
	const second = "shop_2026-11-26-09-00-00.zip.age"
	if got := s.vault.objects(t); len(got) != 1 || got[0] != second {
		t.Fatalf("after the second backup and prune the vault holds %q\n%s", got, r.stdout)
	}
	// The writer collected the packs from the clear packs records: the
	// pruned archive's record went with it, the kept one's is there.
	if strings.Contains(r.stdout+r.stderr, "packs not collected") {
		t.Errorf("the keyless prune did not collect packs:\n%s\n%s", r.stdout, r.stderr)
	}
	all := s.vault.all(t)
	records := 0
	for key, b := range all {
		if strings.HasSuffix(key, ".packs.json") {
			records++
			if !strings.HasSuffix(key, "applications/shop/shop_2026-11-26-09-00-00.zip.packs.json") || !bytes.HasPrefix(b, []byte(`{"version":1,"packs":[`)) {
				t.Errorf("packs record %s: %s", key, b)
			}
		}
	}
	if records != 1 {
		t.Errorf("the store holds %d packs records, want the kept archive's", records)
	}
	// Nothing in the store (archives, records, locks) names a schema, a
	// file or data.
	for key, b := range all {
		if strings.HasSuffix(key, ".age") {
			assertSealed(t, key, b)
			continue
		}
		for _, leak := range []string{"shop_mngt", "shop_central", "shop_local", "MAIN.cob", "PROGRAM-ID"} {
			if bytes.Contains(b, []byte(leak)) {
				t.Errorf("%s names %q in the clear:\n%s", key, leak, b)
			}
		}
	}
	return second
}

// checkReaders runs what needs the identity, and what the writer is refused.
func (s *sealedEstate) checkReaders(t *testing.T, stored string) {
	t.Helper()
	// The writer lists what it can, and is refused what needs the key.
	r := s.as(t, "", 0, "list")
	if !strings.Contains(r.stdout, "(encrypted)") || !strings.Contains(r.stdout, "no encryption.identity_file") {
		t.Errorf("list without a key:\n%s", r.stdout)
	}
	r = s.as(t, "", 4, "verify")
	if !strings.Contains(r.stdout, "NO KEY") || !strings.Contains(r.stdout, `store "vault"`) || !strings.Contains(r.stdout, "identity_file") {
		t.Errorf("verify without a key:\n%s", r.stdout)
	}
	r = s.as(t, "", 1, "plan", "--restore", "application.shop")
	if !strings.Contains(r.stderr, `store "vault"`) || !strings.Contains(r.stderr, "identity_file") {
		t.Errorf("plan --restore without a key:\n%s", r.stderr)
	}
	// The reader verifies, deeply, and says which identity opened each.
	r = s.as(t, s.node.file, 0, "verify", "--deep")
	if !strings.Contains(r.stdout, "(encrypted; opened with "+s.node.file+")") {
		t.Errorf("verify with the node's key:\n%s", r.stdout)
	}
	// The escrow key alone opens it with the stock age tool.
	decryptWithAge(t, s.vault.read(t, stored), s.escrow)

	// Restore from the encrypted store.
	before := describeAll(t, s.estate, shopSchemas...)
	s.srv.Exec(t, s.db, `UPDATE shop_mngt.versions SET note = 'lost'`)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	s.as(t, s.node.file, 0, "plan", "--restore", "application.shop", "--store", "vault", "--out", planFile, "--now", "2026-11-26T10:00:00Z")
	s.outputs = append(s.outputs, string(mustRead(t, planFile)))
	s.as(t, s.node.file, 0, "apply", planFile)
	assertSameSchemas(t, before, describeAll(t, s.estate, shopSchemas...))
}

// assertNote checks the note of shop's first version: what a restore
// would have changed.
func (s *sealedEstate) assertNote(t *testing.T, want string) {
	t.Helper()
	var note string
	if err := s.srv.Conn(t, s.db).QueryRow(context.Background(), "SELECT coalesce(note, '') FROM shop_mngt.versions ORDER BY id LIMIT 1").Scan(&note); err != nil {
		t.Fatal(err)
	}
	if note != want {
		t.Errorf("shop_mngt.versions holds note %q, want %q: a refused restore changed the database", note, want)
	}
}

// assertNoSecret checks that no secret key appears in anything planb
// printed or wrote.
func (s *sealedEstate) assertNoSecret(t *testing.T, extra ...string) {
	t.Helper()
	for _, out := range append(s.outputs, extra...) {
		for _, k := range []ageKey{s.node, s.escrow} {
			if strings.Contains(out, k.secret) || strings.Contains(out, "AGE-SECRET-KEY") {
				t.Fatalf("a secret key appears in planb's output:\n%s", out)
			}
		}
	}
}

// TestEncryptedLocalStore runs an encrypted local store through a
// writer without any identity (two backups, a prune), a reader (verify,
// verify --deep, restore), stock age with the escrow key, a copy out of
// the store, a wrong key, a missing key file and a tampered archive.
func TestEncryptedLocalStore(t *testing.T) {
	root := t.TempDir()
	s := newSealedEstate(t, localSealed(t, root))
	stored := s.backupTwiceAndPrune(t)
	s.checkReaders(t, stored)

	// A wrong identity: verify says which archives it cannot open.
	other := newAgeKeyFile(t, t.TempDir(), "other.key")
	r := s.as(t, other.file, 4, "verify")
	if !strings.Contains(r.stdout, "NO KEY") || !strings.Contains(r.stdout, "none of the identities in "+other.file) {
		t.Errorf("verify with a wrong key:\n%s", r.stdout)
	}

	// A saved restore plan applied once the key file is gone touches
	// nothing: no safety backup, the database unchanged.
	s.srv.Exec(t, s.db, `UPDATE shop_mngt.versions SET note = 'changed after the plan'`)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	keyCopy := filepath.Join(t.TempDir(), "node.key")
	os.WriteFile(keyCopy, []byte(s.node.secret+"\n"), 0o600)
	s.as(t, keyCopy, 0, "plan", "--restore", "application.shop", "--out", planFile, "--now", "2026-11-26T11:00:00Z")
	os.Remove(keyCopy)
	objects := s.vault.objects(t)
	r = s.as(t, keyCopy, 1, "apply", planFile)
	if !strings.Contains(r.stderr, keyCopy) {
		t.Errorf("apply of a restore without its key file:\n%s", r.stderr)
	}
	if got := s.vault.objects(t); strings.Join(got, " ") != strings.Join(objects, " ") {
		t.Errorf("the refused restore changed the store: %q, was %q", got, objects)
	}
	s.assertNote(t, "changed after the plan")

	// Copy out of the encrypted store into a plain one: refused without
	// the key, before anything is written; with it, the copy is plain.
	s.setStores(t, "[store.vault, store.node]")
	r = s.as(t, "", 1, "apply", "--auto-approve", "--now", "2026-11-26T12:00:00Z", "--target", "application.shop")
	if !strings.Contains(r.stderr, "nothing was changed") || !strings.Contains(r.stderr, "identity_file") ||
		!strings.Contains(r.stdout, "decrypts store.vault's archive, but store.vault sets no encryption.identity_file here: apply refuses this plan") {
		t.Errorf("copy out without a key:\n%s\n%s", r.stdout, r.stderr)
	}
	if got := zips(t, s.backups, "applications/shop"); len(got) != 0 {
		t.Errorf("the refused copy wrote %q", got)
	}
	r = s.as(t, s.node.file, 0, "apply", "--auto-approve", "--now", "2026-11-26T12:00:00Z", "--target", "application.shop")
	if !strings.Contains(r.stdout, "decrypts with the encryption.identity_file of store.vault") {
		t.Errorf("the plan of a copy out with the key does not say it decrypts:\n%s", r.stdout)
	}
	got := zips(t, s.backups, "applications/shop")
	if len(got) != 1 || filepath.Base(got[0]) != strings.TrimSuffix(stored, ".age") {
		t.Fatalf("the copy into the plain store: %q", got)
	}
	if b, err := exec.Command("unzip", "-tq", got[0]).CombinedOutput(); err != nil {
		t.Errorf("unzip -t of the decrypted copy: %v\n%s", err, b)
	}

	// A tampered archive is refused by verify and restore.
	path := filepath.Join(root, "applications", "shop", stored)
	b := mustRead(t, path)
	b[len(b)/2] ^= 0x40
	os.WriteFile(path, b, 0o600)
	r = s.as(t, s.node.file, 1, "verify", "application.shop")
	if !strings.Contains(r.stdout, "FAILED  store.vault") || !strings.Contains(r.stdout, "fails authentication") {
		t.Errorf("verify of a tampered archive:\n%s", r.stdout)
	}
	// The manifest, at the end, still reads: the plan is made, and apply
	// refuses it at its first step, the verify.
	s.as(t, s.node.file, 0, "plan", "--restore", "application.shop", "--store", "vault", "--out", planFile, "--now", "2026-11-26T13:00:00Z")
	r = s.as(t, s.node.file, 1, "apply", planFile)
	if !strings.Contains(r.stdout+r.stderr, "fails authentication") {
		t.Errorf("restore of a tampered archive:\n%s\n%s", r.stdout, r.stderr)
	}
	s.assertNote(t, "changed after the plan")
	s.assertNoSecret(t)
}

// TestEncryptedS3Store is the writer and reader round trip through an
// encrypted S3 store (versitygw); then the writer copies from it into a
// local store with the same recipients (ciphertext as it is) and from a
// plain store into it (encrypted on the way), and no secret key appears in
// any output, plan or metrics file.
func TestEncryptedS3Store(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "vault")
	s := newSealedEstate(t, s3Sealed(t, srv, "vault"))
	stored := s.backupTwiceAndPrune(t)
	s.checkReaders(t, stored)

	// The writer copies into a store with the same recipients: the
	// encrypted bytes as they are, no key needed.
	s.setStores(t, "[store.vault, store.vault2]")
	r := s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-26T12:00:00Z")
	if !strings.Contains(r.stdout, "copy application.shop from store.vault into store.vault2") {
		t.Errorf("no copy into vault2:\n%s", r.stdout)
	}
	if got := mustRead(t, filepath.Join(s.second, "applications", "shop", stored)); !bytes.Equal(got, s.vault.read(t, stored)) {
		t.Error("the copy between stores with the same recipients is not the same ciphertext")
	}
	// The writer backs up into a plain store and copies into the
	// encrypted one: encrypted on the way, prunes there.
	s.setStores(t, "[store.node, store.vault]")
	s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-28T09:00:00Z")
	const copied = "shop_2026-11-28-09-00-00.zip.age"
	assertSealed(t, copied, s.vault.read(t, copied))
	decryptWithAge(t, s.vault.read(t, copied), s.escrow)

	// A reader's run with metrics: no secret key in any output, plan or
	// metrics file.
	metrics := filepath.Join(t.TempDir(), "planb.prom")
	s.as(t, s.node.file, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-29T10:00:00Z", "--metrics-file", metrics)
	s.as(t, s.node.file, 0, "verify", "application.shop")
	s.assertNoSecret(t, string(mustRead(t, metrics)))
}

// TestEncryptedStoreWithPacks backs up an application whose delivery
// folder is kept in packs (incremental = true) into a plain store and,
// without any key, copies it into the encrypted store: its packs are
// encrypted on the way, none holds a file's content in the clear. A copy
// between two stores with the same recipients, without a key, brings the
// packs as they are; the reader verifies and restores the folder from
// them. A backup straight into the encrypted store, without a key, works
// too.
func TestEncryptedStoreWithPacks(t *testing.T) {
	root := t.TempDir()
	s := newSealedEstate(t, localSealed(t, root))
	path := filepath.Join(s.dir, "estate.hcl")
	os.WriteFile(path, bytes.Replace(mustRead(t, path), []byte("  delivery_folder = "), []byte("  incremental     = true\n  delivery_folder = "), 1), 0o644)
	s.setStores(t, "[store.node, store.vault]")
	r := s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	if !strings.Contains(r.stdout, "copy application.shop from store.node into store.vault") {
		t.Fatalf("no copy into the encrypted store:\n%s", r.stdout)
	}
	packs, _ := filepath.Glob(filepath.Join(root, "packs", "*", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("the encrypted store holds no packs")
	}
	for _, p := range packs {
		assertSealed(t, p, mustRead(t, p))
		if b := mustRead(t, p); bytes.Contains(b, []byte("IDENTIFICATION")) {
			t.Errorf("%s holds source code in the clear", p)
		}
	}
	// Without a key, into a store with the same recipients: the packs
	// come along as they are.
	s.setStores(t, "[store.vault, store.vault2]")
	s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")
	for _, p := range packs {
		rel, _ := filepath.Rel(root, p)
		if !bytes.Equal(mustRead(t, filepath.Join(s.second, rel)), mustRead(t, p)) {
			t.Errorf("pack %s was not copied as it is", rel)
		}
	}
	// The reader verifies both copies and restores the folder from the
	// encrypted packs.
	r = s.as(t, s.node.file, 0, "verify", "application.shop")
	if strings.Count(r.stdout, "(encrypted; opened with") != 2 {
		t.Errorf("verify of the encrypted copies:\n%s", r.stdout)
	}
	tree := treeSnapshot(t, s.delivery)
	os.RemoveAll(filepath.Join(s.delivery, "v2"))
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	s.as(t, s.node.file, 0, "plan", "--restore", "application.shop", "--store", "vault", "--out", planFile, "--now", "2026-11-25T10:00:00Z")
	s.as(t, s.node.file, 0, "apply", planFile)
	assertSameTree(t, tree, treeSnapshot(t, s.delivery))

	// Without a key, an incremental backup straight into the encrypted
	// store, and a prune there: the previous index cannot be read, so every
	// file is read again; packs are collected from the packs records
	// (TestKeylessCollectsEncryptedPacks).
	s.setStores(t, "[store.vault]")
	r = s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-26T10:00:00Z")
	if !strings.Contains(r.stdout, "backup application.shop into store.vault") || !strings.Contains(r.stdout, "prune application.shop in store.vault") ||
		strings.Contains(r.stdout+r.stderr, "packs not collected") {
		t.Errorf("keyless incremental backup and prune:\n%s\n%s", r.stdout, r.stderr)
	}
	r = s.as(t, s.node.file, 0, "verify", "application.shop")
	if !strings.Contains(r.stdout, "shop_2026-11-26-10-00-00.zip (encrypted; opened with") {
		t.Errorf("verify of the keyless incremental backup:\n%s", r.stdout)
	}
	s.assertNoSecret(t)
}

// TestEncryptedDrill drills an archive of an encrypted store: a host
// without the identity backs up and leaves the due drill out of its plan,
// saying why; the host with the identity drills, and the record is sealed
// in the store (it names schemas); list without the key shows the drill as
// unknown there, saying why.
func TestEncryptedDrill(t *testing.T) {
	root := t.TempDir()
	s := newSealedEstate(t, localSealed(t, root))
	path := filepath.Join(s.dir, "estate.hcl")
	os.WriteFile(path, append(mustRead(t, path), []byte(`
drill "daily" {
  every        = "24h"
  applications = [application.shop]
  window       = "30d"
}
`)...), 0o644)
	// The writer backs up and leaves the drill to a host with the key.
	r := s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	if !strings.Contains(r.stdout, "backup application.shop into store.vault") || strings.Contains(r.stdout, "* drill") ||
		!strings.Contains(r.stdout, "cannot drill:") || !strings.Contains(r.stdout, "a host with the identity drills it") {
		t.Errorf("keyless plan with a drill:\n%s", r.stdout)
	}
	// The reader drills; the record is sealed.
	r = s.as(t, s.node.file, 0, "apply", "--auto-approve", "--now", "2026-11-25T09:00:00Z")
	if !strings.Contains(r.stdout, "drill application.shop from store.vault") {
		t.Fatalf("no drill:\n%s", r.stdout)
	}
	rec := mustRead(t, filepath.Join(root, "records", "applications", "shop", "drill.json"))
	if !bytes.HasPrefix(rec, []byte("age-encryption.org/v1\n")) || bytes.Contains(rec, []byte("shop_mngt")) {
		t.Errorf("the drill record is not sealed: %q", rec[:min(len(rec), 60)])
	}
	r = s.as(t, s.node.file, 0, "list")
	if !strings.Contains(r.stdout, "drill.daily") || !strings.Contains(r.stdout, "ok") {
		t.Errorf("list with the key does not show the drill:\n%s", r.stdout)
	}
	r = s.as(t, "", 0, "list")
	if !strings.Contains(r.stderr, "drill record of an encrypted store cannot be read") {
		t.Errorf("list without the key does not say why the drill is unknown:\n%s", r.stderr)
	}
	s.assertNoSecret(t)
}
