package plan

import (
	"fmt"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store/crypt"
)

// DrillNoKey: a drill is due, but the archive it would take is in an
// encrypted store for which this configuration sets no identity_file. A
// host with the identity drills it; this plan does not.
const DrillNoKey DrillStatus = "no key"

// noteDecryption adds to the reason of every action that must decrypt
// archives of an encrypted store what it needs: a copy out of an encrypted
// store into one that does not encrypt to the same recipients (it is
// decrypted, and encrypted again or stored plain), and a drill from an
// encrypted store. When the configuration sets no identity_file for that
// store, a copy's reason says that apply refuses the plan (runner refuses
// it before any step), and a drill is left out of the plan (DrillNoKey):
// drills are made where the identity is, and a host that only writes
// must go on backing up. Plans themselves read no identity.
func noteDecryption(p *Plan, cfg *config.Config) {
	kept := p.Actions[:0]
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
		switch {
		case st == nil || st.Encryption == nil:
		case st.Encryption.IdentityFile != "":
			a.Reason += fmt.Sprintf("; decrypts with the encryption.identity_file of store.%s", from)
		case a.Type == Drill:
			leaveOutDrill(p, a, from)
			continue
		default:
			a.Reason += fmt.Sprintf("; decrypts store.%s's archive, but store.%s sets no encryption.identity_file here: apply refuses this plan", from, from)
		}
		kept = append(kept, a)
	}
	p.Actions = kept
}

// leaveOutDrill marks the drill state of a's resource DrillNoKey.
func leaveOutDrill(p *Plan, a *Action, from string) {
	for i := range p.Drills {
		s := &p.Drills[i]
		if s.Resource == a.Resource && s.Status == DrillDue {
			s.Status = DrillNoKey
			s.Reason = fmt.Sprintf("%s; the archive to drill, %s, is in store.%s, which encrypts it and sets no encryption.identity_file here: a host with the identity drills it", s.Reason, a.Archive, from)
		}
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
