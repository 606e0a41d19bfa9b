package crypt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func TestParseRecipients(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	pq, _ := age.GenerateHybridIdentity()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	sshLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " ops@escrow"
	tests := map[string]struct {
		entries []string
		n       int
		// err is a substring of the error; "" for none. secret must not
		// appear in it.
		err, secret string
	}{
		"age and ssh":           {entries: []string{id.Recipient().String(), sshLine}, n: 2},
		"recipients file":       {entries: []string{"# node\n" + id.Recipient().String() + "\n\n# escrow\n" + sshLine + "\n"}, n: 2},
		"duplicates count once": {entries: []string{id.Recipient().String(), id.Recipient().String()}, n: 1},
		"none":                  {entries: nil, err: "no recipients"},
		"empty entry":           {entries: []string{id.Recipient().String(), "# only a comment\n"}, err: "recipient 2: holds no public key"},
		"private key":           {entries: []string{id.String()}, err: "recipient 1, line 1: this is an age private key", secret: id.String()},
		"garbage":               {entries: []string{id.Recipient().String(), "\nage1zzz"}, err: "recipient 2, line 2: not a valid age public key"},
		"pq mixed with classic": {entries: []string{pq.Recipient().String(), id.Recipient().String()}, err: "cannot be used together"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, canonical, err := ParseRecipients(tc.entries)
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			case tc.err == "" && len(canonical) != tc.n:
				t.Fatalf("%d recipients, want %d", len(canonical), tc.n)
			case tc.secret != "" && strings.Contains(err.Error(), tc.secret):
				t.Fatalf("the error quotes the private key: %v", err)
			}
		})
	}
}

func TestFingerprintIgnoresOrderAndComments(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	k1, err := NewKeys([]string{a.Recipient().String(), b.Recipient().String()}, "")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := NewKeys([]string{"# b\n" + b.Recipient().String(), a.Recipient().String()}, "")
	k3, _ := NewKeys([]string{a.Recipient().String()}, "")
	if k1.Fingerprint() != k2.Fingerprint() || k1.Fingerprint() == k3.Fingerprint() {
		t.Fatal("fingerprints")
	}
}

func TestIdentities(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(sshFile, pem.EncodeToMemory(block), 0o600)
	sshPub, _ := ssh.NewPublicKey(priv.Public())
	ageFile := filepath.Join(dir, "key.txt")
	os.WriteFile(ageFile, []byte("# created by age-keygen\n"+id.String()+"\n"), 0o600)
	badFile := filepath.Join(dir, "bad.txt")
	os.WriteFile(badFile, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600)

	keys, err := NewKeys([]string{id.Recipient().String(), string(ssh.MarshalAuthorizedKey(sshPub))}, "")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := keys.Seal([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Unseal(sealed); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("without identity file: %v", err)
	}
	for _, file := range []string{ageFile, sshFile} {
		k, _ := NewKeys([]string{id.Recipient().String()}, file)
		k.recipients = keys.recipients
		if got, err := k.Unseal(sealed); err != nil || string(got) != "hello" {
			t.Errorf("%s: %q, %v", filepath.Base(file), got, err)
		}
	}
	k, _ := NewKeys([]string{id.Recipient().String()}, badFile)
	_, err = k.Unseal(sealed)
	if !errors.Is(err, ErrNoIdentity) || strings.Contains(err.Error(), "NOTAKEY") || !strings.Contains(err.Error(), badFile) {
		t.Fatalf("bad identity file: %v", err)
	}
	k, _ = NewKeys([]string{id.Recipient().String()}, filepath.Join(dir, "missing.key"))
	if _, err := k.Unseal(sealed); !errors.Is(err, ErrNoIdentity) || !strings.Contains(err.Error(), "missing.key") {
		t.Fatalf("missing identity file: %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	os.WriteFile(ageFile, []byte(other.String()+"\n"), 0o600)
	k, _ = NewKeys([]string{id.Recipient().String()}, ageFile)
	if _, err := k.Unseal(sealed); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("wrong identity: %v", err)
	}
}

func TestCheckHeader(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	k, _ := NewKeys([]string{id.Recipient().String()}, "")
	sealed, _ := k.Seal(nil)
	if err := CheckHeader(bytes.NewReader(sealed), int64(len(sealed))); err != nil {
		t.Fatalf("an empty object: %v", err)
	}
	for name, b := range map[string][]byte{
		"zip":       []byte("PK\x03\x04rest of a zip file"),
		"cut":       sealed[:len(sealed)-20],
		"no header": []byte(Magic),
	} {
		if err := CheckHeader(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckHeader(failing{}, 100); errors.Is(err, ErrTampered) || err == nil {
		t.Errorf("a failing reader: %v, want its own error", err)
	}
}

type failing struct{}

func (failing) ReadAt([]byte, int64) (int, error) { return 0, io.ErrClosedPipe }

// EncryptedSize and PlainSize agree with what age writes, on and around
// chunk boundaries.
func TestSizes(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	k, _ := NewKeys([]string{id.Recipient().String()}, "")
	for _, n := range []int{0, 1, 15, 16, 65535, 65536, 65537, 2 * 65536, 300_000} {
		sealed, err := k.Seal(make([]byte, n))
		if err != nil {
			t.Fatal(err)
		}
		header, err := HeaderSize(bytes.NewReader(sealed), int64(len(sealed)))
		if err != nil {
			t.Fatal(err)
		}
		if got := EncryptedSize(header+nonceSize, int64(n)); got != int64(len(sealed)) {
			t.Errorf("EncryptedSize(%d) = %d, age wrote %d", n, got, len(sealed))
		}
		if plain, ok := PlainSize(int64(len(sealed)), header); !ok || plain != int64(n) {
			t.Errorf("PlainSize of %d bytes = %d, %v; want %d", len(sealed), plain, ok, n)
		}
	}
}
