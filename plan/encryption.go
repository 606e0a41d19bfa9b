package plan

import (
	"fmt"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store/crypt"
)

// noteDecryption adds to the reason of every action that must decrypt
// archives of an encrypted store what it needs: a copy out of an encrypted
// store into one that does not encrypt to the same recipients (it is
// decrypted, and encrypted again or stored plain), and a drill from an
// encrypted store. When the configuration sets no identity_file for that
// store, the reason says that apply refuses the plan (runner refuses it
// before any step); plans themselves read no identity.
func noteDecryption(p *Plan, cfg *config.Config) {
	for _, a := range p.Actions {
		from := ""
		switch a.Type {
		case Copy:
			if !sameRecipients(cfg.Stores[a.FromStore], cfg.Stores[a.Store]) {
				from = a.FromStore
			}
		case Drill:
			from = a.Store
		}
		st := cfg.Stores[from]
		if st == nil || st.Encryption == nil {
			continue
		}
		if st.Encryption.IdentityFile == "" {
			a.Reason += fmt.Sprintf("; decrypts store.%s's archive, but store.%s sets no encryption.identity_file here: apply refuses this plan", from, from)
			continue
		}
		a.Reason += fmt.Sprintf("; decrypts with the encryption.identity_file of store.%s", from)
	}
}

// sameRecipients reports whether two stores encrypt to the same public
// keys (both plain counts as the same), so that a copy moves encrypted
// bytes as they are.
func sameRecipients(a, b *config.Store) bool {
	if a == nil || b == nil {
		return false
	}
	if a.Encryption == nil || b.Encryption == nil {
		return a.Encryption == nil && b.Encryption == nil
	}
	ka, err := crypt.NewKeys(a.Encryption.Recipients, "")
	if err != nil {
		return false
	}
	kb, err := crypt.NewKeys(b.Encryption.Recipients, "")
	return err == nil && ka.Fingerprint() == kb.Fingerprint()
}
