package plan

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/planb-backup/planb/plan/config"
)

// TestDecryptionNotes: a copy out of an encrypted store into a plain one
// says it decrypts, and that apply refuses it when the configuration has no
// identity for that store; a copy into an encrypted store, or between two
// with the same recipients, says nothing; a due drill from an encrypted
// store without an identity is left out of the plan, saying why.
func TestDecryptionNotes(t *testing.T) {
	k1, _ := age.GenerateX25519Identity()
	k2, _ := age.GenerateX25519Identity()
	one, two := k1.Recipient().String(), k2.Recipient().String()
	enc := func(identity string, recipients ...string) *config.Encryption {
		return &config.Encryption{Recipients: recipients, IdentityFile: identity}
	}
	tests := map[string]struct {
		node, offsite *config.Encryption
		// reason is a part of the copy's reason; "" when it adds nothing.
		reason string
	}{
		"plain to plain":                    {nil, nil, ""},
		"encrypted to plain, no identity":   {nil, enc("", one), "decrypts store.offsite's archive, but store.offsite sets no encryption.identity_file here: apply refuses this plan"},
		"encrypted to plain, with identity": {nil, enc("/k", one), "decrypts with the encryption.identity_file of store.offsite"},
		"same recipients, no identity":      {enc("", two, one), enc("", one, two), ""},
		"other recipients, no identity":     {enc("", one), enc("", one, two), "apply refuses this plan"},
		"plain into encrypted":              {enc("", one), nil, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := fixture()
			cfg.Stores["node"].Encryption, cfg.Stores["offsite"].Encryption = tc.node, tc.offsite
			// A's newest archive is in offsite only: the plan copies it
			// into node.
			cat := Catalog{"offsite": {arch("offsite", "applications", "A", time.Hour, false)}}
			p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}})
			if err != nil {
				t.Fatal(err)
			}
			var copyAction *Action
			for _, a := range p.Actions {
				if a.Type == Copy {
					copyAction = a
				}
			}
			if copyAction == nil || copyAction.FromStore != "offsite" {
				t.Fatalf("no copy from offsite:\n%s", types(p))
			}
			if tc.reason == "" && strings.Contains(copyAction.Reason, "decrypt") ||
				tc.reason != "" && !strings.Contains(copyAction.Reason, tc.reason) {
				t.Errorf("copy reason %q, want %q", copyAction.Reason, tc.reason)
			}
		})
	}
}

func TestKeylessDrillLeftOut(t *testing.T) {
	k, _ := age.GenerateX25519Identity()
	cfg := fixture()
	cfg.Stores["offsite"].Encryption = &config.Encryption{Recipients: []string{k.Recipient().String()}}
	cfg.Resources[0].Stores = []*config.Store{cfg.Stores["offsite"]}
	cfg.Drills = []*config.Drill{{Name: "d", Every: 24 * time.Hour, Window: 30 * 24 * time.Hour, Resources: []string{"application.A"}}}
	cat := Catalog{"offsite": {arch("offsite", "applications", "A", time.Hour, false)}}
	p, err := Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(types(p), "drill") {
		t.Fatalf("the keyless plan drills:\n%s", types(p))
	}
	if len(p.Drills) != 1 || p.Drills[0].Status != DrillNoKey || !strings.Contains(p.Drills[0].Reason, "a host with the identity drills it") {
		t.Fatalf("drill states: %+v", p.Drills)
	}
	cfg.Stores["offsite"].Encryption.IdentityFile = "/k"
	if p, _ = Make(cfg, cat, Options{Now: now, Targets: []string{"application.A"}}); !strings.Contains(types(p), "drill application.A offsite") {
		t.Fatalf("the reader's plan does not drill:\n%s", types(p))
	}
}
