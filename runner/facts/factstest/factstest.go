// Package factstest stores archives for the tests of the packages that
// read them back (runner/facts, runner/check): a sound ZIP of the original
// system, or any bytes, committed into a store like a backup would.
package factstest

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"

	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// Put stores data as archive name of ref in st, committed.
func Put(t testing.TB, st store.Store, ref catalog.Ref, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	up, err := st.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	if _, err := up.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// PlainZIP is a sound archive of the original system: a ZIP of one dump,
// without manifest.
func PlainZIP(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("crm_mngt.dump")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("dump")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
