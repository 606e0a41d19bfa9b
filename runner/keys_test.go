package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/crypt"
)

// TestCheckKeys checks which actions of a plan need the identity of an
// encrypted store, and that Build refuses a plan whose store has none
// before it builds a step.
func TestCheckKeys(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600)
	local := func(name string) store.Store {
		s, err := store.NewLocal(name, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	encrypted := func(name, identity string) store.Store {
		k, err := crypt.NewKeys([]string{id.Recipient().String()}, identity)
		if err != nil {
			t.Fatal(err)
		}
		return store.NewEncrypted(local(name), k, store.EncryptedOptions{})
	}
	stores := map[string]store.Store{
		"plain":  local("plain"),
		"writer": encrypted("writer", ""),
		"twin":   encrypted("twin", ""),
		"reader": encrypted("reader", keyFile),
	}
	tests := map[string]struct {
		action plan.Action
		// want is "" when the plan is allowed, else a part of the error.
		want string
	}{
		"backup into a keyless store":            {plan.Action{ID: "b", Type: plan.Backup, Store: "writer"}, ""},
		"copy into a keyless store":              {plan.Action{ID: "c", Type: plan.Copy, FromStore: "plain", Store: "writer"}, ""},
		"copy between stores with the same keys": {plan.Action{ID: "c", Type: plan.Copy, FromStore: "writer", Store: "twin"}, ""},
		"prune a keyless store":                  {plan.Action{ID: "p", Type: plan.Prune, Store: "writer"}, ""},
		"copy out with the identity":             {plan.Action{ID: "c", Type: plan.Copy, FromStore: "reader", Store: "plain"}, ""},
		"restore with the identity":              {plan.Action{ID: "r", Type: plan.Restore, Store: "reader"}, ""},
		"copy out without the identity":          {plan.Action{ID: "c", Type: plan.Copy, FromStore: "writer", Store: "plain", Archive: "a.zip"}, `c decrypts what it copies from store.writer (a.zip): store "writer" encrypts its archives`},
		"restore without the identity":           {plan.Action{ID: "r", Type: plan.Restore, Store: "writer"}, `r reads store.writer`},
		"drill without the identity":             {plan.Action{ID: "d", Type: plan.Drill, Store: "writer"}, `d reads store.writer`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := tc.action
			p := &plan.Plan{Actions: []*plan.Action{&a}}
			err := checkKeys(p, stores)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "identity_file")):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if tc.want != "" {
				if g, err := Build(p, &Env{Stores: stores}); err == nil || g != nil {
					t.Fatalf("Build: %v, %v; want refused", g, err)
				}
			}
		})
	}
}
