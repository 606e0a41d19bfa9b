package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
)

// newRecipient returns the public key of a fresh age identity.
func newRecipient(t *testing.T) (pub, secret string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), id.String()
}

func TestEncryptionBlock(t *testing.T) {
	pub1, _ := newRecipient(t)
	pub2, _ := newRecipient(t)
	cfg := mustLoad(t, map[string]string{
		"escrow.pub": "# escrow key, kept offline\n" + pub2 + "\n",
		"base.hcl": fmt.Sprintf(`database "css" {
  host = "localhost"
}
store "node" {
  local { path = "/backups" }
}
store "offsite" {
  local { path = "/offsite" }
  encryption {
    recipients    = [%q, file("escrow.pub")]
    identity_file = "keys/node.key"
  }
}
`, pub1),
	}, LoadOptions{})
	enc := cfg.Stores["offsite"].Encryption
	if enc == nil || len(enc.Recipients) != 2 || enc.Recipients[0] != pub1 {
		t.Fatalf("encryption: %+v", enc)
	}
	if want := filepath.Join(filepath.Dir(cfg.Stores["offsite"].DeclRange.Filename), "keys/node.key"); enc.IdentityFile != want {
		t.Errorf("identity_file %q, want %q (relative to the configuration)", enc.IdentityFile, want)
	}
	if cfg.Stores["node"].Encryption != nil {
		t.Errorf("store.node has encryption %+v", cfg.Stores["node"].Encryption)
	}
}

func TestEncryptionWriterNeedsNoIdentity(t *testing.T) {
	pub, _ := newRecipient(t)
	cfg := mustLoad(t, map[string]string{
		"base.hcl": fmt.Sprintf(`database "css" {
  host = "localhost"
}
variable "age_identity" {
  type    = string
  default = null
}
store "node" {
  local { path = "/backups" }
  encryption {
    recipients    = [%q]
    identity_file = var.age_identity
  }
}
`, pub),
	}, LoadOptions{})
	if enc := cfg.Stores["node"].Encryption; enc == nil || enc.IdentityFile != "" {
		t.Fatalf("encryption: %+v", enc)
	}
}

func TestEncryptionDiagnostics(t *testing.T) {
	pub, secret := newRecipient(t)
	tests := map[string]struct {
		block string
		want  []string
		// absent must not appear in any diagnostic.
		absent string
	}{
		"no recipients": {
			block: `recipients = []`,
			want:  []string{"No recipients @ main.hcl:4:18"},
		},
		"missing recipients": {
			block: `identity_file = "k"`,
			want:  []string{`Missing required argument @ main.hcl:3:14`},
		},
		"bad second entry": {
			block: fmt.Sprintf("recipients = [\n      %q,\n      \"age1notakey\",\n    ]", pub),
			want:  []string{"Invalid recipient @ main.hcl:6:7"},
		},
		"private key as recipient": {
			block:  fmt.Sprintf("recipients = [%q]", secret),
			want:   []string{"Invalid recipient @ main.hcl:4:19"},
			absent: secret,
		},
		"private key as identity_file": {
			block:  fmt.Sprintf("recipients = [%q]\n    identity_file = %q", pub, secret),
			want:   []string{"Private key in the configuration @ main.hcl:5:21"},
			absent: secret,
		},
		"two blocks": {
			block: fmt.Sprintf("recipients = [%q]\n  }\n  encryption {\n    recipients = [%q]", pub, pub),
			want:  []string{"Duplicate encryption block @ main.hcl:6:3"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := "store \"x\" {\n  local { path = \"/x\" }\n  encryption {\n    " + tc.block + "\n  }\n}\n"
			dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "main.hcl": src})
			_, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
			got := diagLines(dir, diags)
			if !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics %q, want %q", got, tc.want)
			}
			if tc.absent != "" {
				for _, d := range diags {
					if strings.Contains(d.Summary+d.Detail, tc.absent) {
						t.Errorf("a diagnostic quotes the private key: %s", d.Detail)
					}
				}
			}
		})
	}
}

// TestEncryptionIdentityNotRead checks that loading and validating never
// read the identity file: a writer's configuration names a file that is
// not there.
func TestEncryptionIdentityNotRead(t *testing.T) {
	pub, _ := newRecipient(t)
	dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "main.hcl": fmt.Sprintf(`store "x" {
  local { path = "/x" }
  encryption {
    recipients    = [%q]
    identity_file = "missing.key"
  }
}
`, pub)})
	if _, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }}); len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.key")); !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
