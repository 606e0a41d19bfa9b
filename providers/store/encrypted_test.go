package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/providers/store/crypt"
)

// testKeys returns keys for a fresh identity, written to a file; without
// withIdentity the keys have only the recipient (a writer's).
func testKeys(t *testing.T, id *age.X25519Identity, withIdentity bool, extra ...string) *crypt.Keys {
	t.Helper()
	file := ""
	if withIdentity {
		file = filepath.Join(t.TempDir(), "key.txt")
		if err := os.WriteFile(file, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k, err := crypt.NewKeys(append([]string{id.Recipient().String()}, extra...), file)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newAgeKey(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func readAll(t *testing.T, s Store, ref Ref, name string) (string, error) {
	t.Helper()
	obj, err := s.Open(context.Background(), ref, name)
	if err != nil {
		return "", err
	}
	defer obj.Close()
	b, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	return string(b), err
}

func TestEncryptedLocalRoundTrip(t *testing.T) {
	id := newAgeKey(t)
	inner := newLocal(t)
	st := NewEncrypted(inner, testKeys(t, id, true), EncryptedOptions{})
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := strings.Repeat("CREATE TABLE shop_mngt.secret_table (id int);\n", 5000)
	put(t, st, ref, name, data)

	got, err := readAll(t, st, ref, name)
	if err != nil || got != data {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	// Stored as <name>.age: an age file, holding nothing of the data.
	raw, err := os.ReadFile(filepath.Join(inner.root, ref.Kind, ref.Name, name+EncryptedSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(crypt.Magic)) || bytes.Contains(raw, []byte("shop_mngt")) {
		t.Fatalf("stored bytes are not an age file, or hold plaintext: %q…", raw[:40])
	}
	if _, err := os.Stat(filepath.Join(inner.root, ref.Kind, ref.Name, name)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a plain %s exists: %v", name, err)
	}
	// Decrypts with the stock format: age.Decrypt of the stored bytes.
	r, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != data {
		t.Fatal("age.Decrypt of the stored bytes differs")
	}
	list, err := st.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != name || !list[0].Encrypted || list[0].Size != int64(len(raw)) {
		t.Fatalf("List: %+v, %v", list, err)
	}
	if err := st.Delete(ctx, ref, name); err != nil {
		t.Fatal(err)
	}
	if list, _ := inner.List(ctx); len(list) != 0 {
		t.Fatalf("after Delete the inner store lists %+v", list)
	}
}

func TestEncryptedWithoutIdentity(t *testing.T) {
	id := newAgeKey(t)
	inner := newLocal(t)
	writer := NewEncrypted(inner, testKeys(t, id, false), EncryptedOptions{ClearRecords: []string{"nodes.json"}})
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	put(t, writer, ref, name, "data")
	if err := writer.CheckSealed(ctx, ref, name); err != nil {
		t.Fatalf("CheckSealed: %v", err)
	}
	_, err := readAll(t, writer, ref, name)
	if !errors.Is(err, ErrNoIdentity) || !strings.Contains(err.Error(), `store "node"`) || !strings.Contains(err.Error(), "identity_file") ||
		!strings.Contains(err.Error(), id.Recipient().String()) {
		t.Fatalf("Open without identity does not name the store, the setting and the key it needs: %v", err)
	}
	if err := writer.CanDecrypt(); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("CanDecrypt: %v", err)
	}
	// Records: clear ones read, sealed ones need the key.
	if err := writer.WriteRecord(ctx, ref, "nodes.json", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := writer.ReadRecord(ctx, ref, "nodes.json"); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("clear record: %q, %v", b, err)
	}
	if err := writer.WriteRecord(ctx, ref, "drill.json", []byte(`{"schema":"shop_mngt"}`)); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.ReadRecord(ctx, ref, "drill.json")
	if err != nil || !crypt.IsEncrypted(raw) || bytes.Contains(raw, []byte("shop_mngt")) {
		t.Fatalf("sealed record stored as %q, %v", raw, err)
	}
	if _, err := writer.ReadRecord(ctx, ref, "drill.json"); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("sealed record without identity: %v", err)
	}
	reader := NewEncrypted(inner, testKeys(t, id, true), EncryptedOptions{ClearRecords: []string{"nodes.json"}})
	if b, err := reader.ReadRecord(ctx, ref, "drill.json"); err != nil || string(b) != `{"schema":"shop_mngt"}` {
		t.Fatalf("sealed record with identity: %q, %v", b, err)
	}
	if got, err := readAll(t, reader, ref, name); err != nil || got != "data" {
		t.Fatalf("reader: %q, %v", got, err)
	}
}

func TestEncryptedWrongIdentityAndTampering(t *testing.T) {
	id, other := newAgeKey(t), newAgeKey(t)
	inner := newLocal(t)
	st := NewEncrypted(inner, testKeys(t, id, true), EncryptedOptions{})
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := strings.Repeat("x", 300_000) // several 64 KiB chunks
	put(t, st, ref, name, data)

	wrong := NewEncrypted(inner, testKeys(t, other, true), EncryptedOptions{})
	if _, err := readAll(t, wrong, ref, name); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("wrong identity: %v", err)
	}
	path := filepath.Join(inner.root, ref.Kind, ref.Name, name+EncryptedSuffix)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 1 // a middle chunk
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, st, ref, name); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered chunk: %v", err)
	}
	if err := os.WriteFile(path, raw[:len(raw)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, st, ref, name); !errors.Is(err, ErrTampered) {
		t.Fatalf("cut short: %v", err)
	}
	if err := os.WriteFile(path, []byte("PK\x03\x04 not age"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckSealed(context.Background(), ref, name); !errors.Is(err, ErrTampered) {
		t.Fatalf("CheckSealed of a non-age file: %v", err)
	}
}

func TestEncryptedNames(t *testing.T) {
	id := newAgeKey(t)
	inner := newLocal(t)
	st := NewEncrypted(inner, testKeys(t, id, false), EncryptedOptions{})
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	// A partial: stored as <name>.age.partial, listed as <name>.partial.
	up, err := st.Create(ctx, ref, "shop_2026-11-25-20-30-00.zip")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, "half")
	list, _ := st.List(ctx)
	if len(list) != 1 || list[0].Name != "shop_2026-11-25-20-30-00.zip.partial" || !list[0].Partial || !list[0].Encrypted {
		t.Fatalf("partial lists as %+v", list)
	}
	if ilist, _ := inner.List(ctx); len(ilist) != 1 || ilist[0].Name != "shop_2026-11-25-20-30-00.zip.age.partial" {
		t.Fatalf("inner lists the partial as %+v", ilist)
	}
	// A leftover is cleaned by its listed (plain) name.
	if err := st.Delete(ctx, ref, "shop_2026-11-25-20-30-00.zip.partial"); err != nil {
		t.Fatalf("Delete of the partial: %v", err)
	}
	if ilist, _ := inner.List(ctx); len(ilist) != 0 {
		t.Fatalf("after Delete of the partial the inner store lists %+v", ilist)
	}
	up.Abort()
	// A plain archive from before the encryption lists and opens as it is.
	put(t, inner, ref, "shop_2026-11-24-20-30-00.zip", "plain")
	list, _ = st.List(ctx)
	if len(list) != 1 || list[0].Encrypted || list[0].Name != "shop_2026-11-24-20-30-00.zip" {
		t.Fatalf("plain archive lists as %+v", list)
	}
	if got, err := readAll(t, st, ref, "shop_2026-11-24-20-30-00.zip"); err != nil || got != "plain" {
		t.Fatalf("plain archive reads %q, %v", got, err)
	}
	if _, err := st.Create(ctx, ref, "shop_2026-11-25-20-30-00.zip.age"); err == nil {
		t.Fatal("Create accepted an encrypted name")
	}
	for name, safety := range map[string]bool{
		"shop_2026-11-25-20-30-00.safety.zip.age":         true,
		"shop_2026-11-25-20-30-00.safety.zip.age.partial": true,
		"shop_2026-11-25-20-30-00.zip.age":                false,
	} {
		if catalog.IsSafety(name) != safety {
			t.Errorf("catalog.IsSafety(%q) = %v", name, !safety)
		}
		if _, _, _, ok := catalog.ParseArchiveName(name); !ok {
			t.Errorf("catalog.ParseArchiveName(%q) refused it", name)
		}
	}
}

func TestEncryptedCopy(t *testing.T) {
	id, escrow := newAgeKey(t), newAgeKey(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := strings.Repeat("y", 200_000)
	a := NewEncrypted(newLocal(t), testKeys(t, id, false, escrow.Recipient().String()), EncryptedOptions{})
	b := NewEncrypted(newLocal(t), testKeys(t, id, false, escrow.Recipient().String()), EncryptedOptions{})
	c := NewEncrypted(newLocal(t), testKeys(t, id, false), EncryptedOptions{})
	put(t, a, ref, name, data)
	if !SameEncryption(a, b) || SameEncryption(a, c) || SameEncryption(a, newLocal(t)) {
		t.Fatal("SameEncryption")
	}
	// Same recipients: the encrypted bytes are copied as they are, no key needed.
	done, err := b.CopyFrom(ctx, a, ref, name)
	if err != nil || !done {
		t.Fatalf("CopyFrom: %v, %v", done, err)
	}
	rawA, _ := os.ReadFile(filepath.Join(a.Inner().(*Local).root, ref.Kind, ref.Name, name+EncryptedSuffix))
	rawB, _ := os.ReadFile(filepath.Join(b.Inner().(*Local).root, ref.Kind, ref.Name, name+EncryptedSuffix))
	if len(rawA) == 0 || !bytes.Equal(rawA, rawB) {
		t.Fatal("the copy's bytes differ from the source's")
	}
	if done, err := c.CopyFrom(ctx, a, ref, name); done || err != nil {
		t.Fatalf("CopyFrom other recipients: %v, %v; want not done", done, err)
	}
	// The escrow key alone decrypts the copy.
	r, err := age.Decrypt(bytes.NewReader(rawB), escrow)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != data {
		t.Fatal("escrow decrypts something else")
	}
}

// TestEncryptedS3 runs an encrypted store on a real S3 server (versitygw):
// a writer without identity uploads (checked once committed, by size and
// header), a reader decrypts with ranged reads, and a copy between two
// encrypted S3 stores with the same recipients is made by the server.
func TestEncryptedS3(t *testing.T) {
	id := newAgeKey(t)
	inner, srv := newS3(t)
	srv.CreateBucket(t, "other")
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := string(payload(minS3PartSize + 70_000))

	writer := NewEncrypted(inner, testKeys(t, id, false), EncryptedOptions{})
	put(t, writer, ref, name, data)
	raw, err := inner.Open(ctx, ref, name+EncryptedSuffix)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, len(crypt.Magic))
	if _, err := raw.ReadAt(head, 0); err != nil || !crypt.IsEncrypted(head) {
		t.Fatalf("stored object starts %q, %v", head, err)
	}
	raw.Close()
	if _, err := readAll(t, writer, ref, name); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("writer reads: %v", err)
	}
	reader := NewEncrypted(inner, testKeys(t, id, true), EncryptedOptions{})
	if got, err := readAll(t, reader, ref, name); err != nil || got != data {
		t.Fatalf("reader: %d bytes, %v", len(got), err)
	}
	other := NewEncrypted(s3On(t, srv, "other", "other", "", nil), testKeys(t, id, true), EncryptedOptions{})
	if done, err := other.CopyFrom(ctx, writer, ref, name); err != nil || !done {
		t.Fatalf("server-side copy: %v, %v", done, err)
	}
	if got, err := readAll(t, other, ref, name); err != nil || got != data {
		t.Fatalf("copy: %d bytes, %v", len(got), err)
	}
	if err := writer.Delete(ctx, ref, name); err != nil {
		t.Fatal(err)
	}
	if list, err := writer.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after Delete: %+v, %v", list, err)
	}
}

// BenchmarkEncryptedUpload writes the same 32 MiB archive into a plain
// local store and into an encrypted one, side by side: the ratio of the
// two is what encryption costs a backup's write (docs/PERFORMANCE.md).
func BenchmarkEncryptedUpload(b *testing.B) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	keys, err := crypt.NewKeys([]string{id.Recipient().String()}, "")
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 32<<20)
	for i := range data {
		data[i] = byte(i * 7 % 253)
	}
	ref := Ref{Kind: KindApplications, Name: "shop"}
	for _, bc := range []struct {
		name string
		wrap func(Store) Store
	}{
		{"plain", func(s Store) Store { return s }},
		{"encrypted", func(s Store) Store { return NewEncrypted(s, keys, EncryptedOptions{}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				inner, err := NewLocal("bench", b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				st := bc.wrap(inner)
				up, err := st.Create(context.Background(), ref, catalog.ArchiveName("shop", time.Unix(int64(i), 0)))
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < len(data); off += 1 << 20 {
					if _, err := up.Write(data[off : off+1<<20]); err != nil {
						b.Fatal(err)
					}
				}
				if err := up.Commit(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
