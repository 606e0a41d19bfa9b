package config

import (
	"errors"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/planb-backup/planb/providers/store/crypt"
)

// Encryption encrypts a store's archives with age (encryption { … } in a
// store block). Recipients are public: a writer needs only them. The
// identity file holds a private key; only commands that decrypt read it,
// and its contents never appear in plans, output or logs.
type Encryption struct {
	// Recipients are the public keys archives are encrypted to, as
	// configured: each entry one key (age1…, ssh-ed25519 …, ssh-rsa …) or
	// the text of a recipients file (one key per line, # comments).
	Recipients []string
	// IdentityFile is the path of the private key readers decrypt with;
	// "" when this configuration cannot decrypt (a writer).
	IdentityFile string
	DeclRange    hcl.Range
}

var encryptionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "recipients", Required: true},
		{Name: "identity_file"},
	},
}

// decodeEncryption decodes an encryption block and checks its recipients
// offline: every entry must parse as a public key, and the keys must be
// usable together. A problem points at the entry when the list is written
// out, else at the attribute.
func (l *loader) decodeEncryption(store string, content *hcl.BodyContent, rng hcl.Range, bd *body) *Encryption {
	enc := &Encryption{DeclRange: rng}
	a := content.Attributes["recipients"]
	enc.Recipients = bd.strList("recipients")
	if a != nil && enc.Recipients != nil {
		if len(enc.Recipients) == 0 {
			l.errorf(a.Expr.Range().Ptr(), "No recipients",
				"The encryption of store %q lists no recipients: list at least one public key (age1… from age-keygen), and an offline escrow key next to it.", store)
		} else if _, _, err := crypt.ParseRecipients(enc.Recipients); err != nil {
			subject := a.Expr.Range()
			var re *crypt.RecipientError
			if errors.As(err, &re) {
				if tup, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && re.Entry <= len(tup.Exprs) {
					subject = tup.Exprs[re.Entry-1].Range()
				}
			}
			l.errorf(&subject, "Invalid recipient", "The encryption of store %q: %s.", store, err)
		}
	}
	if at := content.Attributes["identity_file"]; at != nil {
		raw := bd.str("identity_file", "")
		if strings.Contains(raw, "AGE-SECRET-KEY-") || strings.Contains(raw, "PRIVATE KEY") {
			l.errorf(at.Expr.Range().Ptr(), "Private key in the configuration",
				"identity_file of store %q holds a key, not the path of a file: write the key into a file readable only by planb's user and give its path.", store)
			return enc
		}
		enc.IdentityFile = bd.path("identity_file")
	}
	return enc
}
