package users

import (
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// HardwareKeys is the account's hardware-keys-only policy as its installed
// Match block says it (render.InstalledHardwareKeys); nil: plain keys are
// accepted too.
func (h Host) HardwareKeys(account string) (*render.HardwareKeys, error) {
	cfg := h.SshdConfig
	if cfg == "" {
		cfg = sshd.DefaultConfig
	}
	return render.InstalledHardwareKeys(h.Root, cfg, account)
}

// checkHardwarePolicy refuses what the account's policy would make sshd
// refuse anyway: a plain key where only hardware-backed keys are accepted,
// and no-touch-required where the block requires a touch. Written, such a
// line would look installed and never log in.
func (h Host) checkHardwarePolicy(account string, k keyline.Key, allowNoTouch bool) error {
	pol, err := h.HardwareKeys(account)
	if err != nil || pol == nil {
		return err
	}
	if !keyline.IsHardware(k.Type()) {
		return fail.New(fail.Failed,
			"ask your friend for a hardware-backed key (ssh-keygen -t ed25519-sk -O verify-required, docs/hardware-keys.md), or let the account take plain keys again: pfwdctl apply --user "+account+" --hardware-keys-only=false",
			"refusing: %s takes hardware-backed (FIDO) keys only, and this is a %s key; nothing was written", account, k.Type())
	}
	if allowNoTouch {
		return fail.New(fail.Failed,
			"drop --allow-no-touch: the account's Match block has PubkeyAuthOptions touch-required, so every login takes a touch",
			"refusing: %s requires a touch on the token at every login (apply --hardware-keys-only); nothing was written", account)
	}
	return nil
}
