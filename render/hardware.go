package render

import (
	"context"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// HardwareKeys is apply --hardware-keys-only: the account's Match block
// takes hardware-backed (FIDO) keys only, each login with a touch on the
// token, and with RequireVerify also its PIN or biometric. Other accounts
// on the host are not affected: the lines are in this account's block.
type HardwareKeys struct {
	// Algorithms are the PubkeyAcceptedAlgorithms for the account: FIDO
	// key algorithms (and their certificate forms when the account trusts
	// pfwdctl's CA) that this sshd accepts (ProbeHardwareKeys).
	Algorithms []string
	// RequireVerify adds verify-required to PubkeyAuthOptions.
	RequireVerify bool
	// Keyword is how this sshd spells the list: PubkeyAcceptedAlgorithms,
	// or before 8.5 PubkeyAcceptedKeyTypes (probed, or read back from the
	// installed block); empty: PubkeyAcceptedAlgorithms.
	Keyword string `json:"-"`
}

// keyword is Keyword or its default.
func (h *HardwareKeys) keyword() string {
	if h.Keyword == "" {
		return AlgorithmsKeyword
	}
	return h.Keyword
}

// The sshd_config keyword for accepted public key algorithms, and its name
// before OpenSSH 8.5 (which releases still in use, 8.2 and 8.4, know only).
const (
	AlgorithmsKeyword    = "PubkeyAcceptedAlgorithms"
	OldAlgorithmsKeyword = "PubkeyAcceptedKeyTypes"
)

// Validate refuses an empty list and any algorithm that is not a FIDO one:
// a plain key algorithm here would let plain keys in.
func (h *HardwareKeys) Validate() error {
	if len(h.Algorithms) == 0 {
		return fail.New(fail.Usage, "", "hardware keys: no algorithm")
	}
	for _, a := range h.Algorithms {
		if !keyline.IsHardware(a) || !algRE().MatchString(a) {
			return fail.New(fail.Usage, "", "hardware keys: %q is not a FIDO key algorithm", a)
		}
	}
	return nil
}

// AuthOptions is the PubkeyAuthOptions value: touch-required always, so a
// key line's no-touch-required cannot lift the touch (sshd_config(5)).
func (h *HardwareKeys) AuthOptions() string {
	if h.RequireVerify {
		return "touch-required verify-required"
	}
	return "touch-required"
}

// hardwareLines are the Match block's lines for h (indented, each ending
// in a newline); "" when nil.
func hardwareLines(h *HardwareKeys) string {
	if h == nil {
		return ""
	}
	why := "token; other accounts keep their own key types"
	if h.RequireVerify {
		why = "token and its PIN or biometric (verify-required)"
	}
	return "    # Hardware-backed (FIDO) keys only: every login takes a touch on the\n" +
		"    # " + why + ". See docs/hardware-keys.md.\n" +
		"    " + h.keyword() + " " + strings.Join(h.Algorithms, ",") + "\n" +
		"    PubkeyAuthOptions " + h.AuthOptions() + "\n"
}

// ProbeHardwareKeys is the FIDO algorithm list for the sshd b runs: each
// of keyline.HardwareKeyAlgorithms (and, with certs, HardwareCertAlgorithms)
// that sshd -t -o PubkeyAcceptedAlgorithms=ALG takes, and whether it takes
// PubkeyAuthOptions verify-required. It asks the binary, never its version:
// a build without security key support refuses the names.
func ProbeHardwareKeys(ctx context.Context, b sshd.Binary, certs, verify bool) (*HardwareKeys, error) {
	// The host's own configuration first: if sshd -t refuses it, every
	// probe below would fail for that reason, not for the algorithm.
	if err := b.Accepts(ctx); err != nil {
		return nil, err
	}
	want := keyline.HardwareKeyAlgorithms
	if certs {
		want = append(append([]string{}, want...), keyline.HardwareCertAlgorithms...)
	}
	h := &HardwareKeys{RequireVerify: verify}
	if b.Accepts(ctx, AlgorithmsKeyword+"=ssh-ed25519") != nil && b.Accepts(ctx, OldAlgorithmsKeyword+"=ssh-ed25519") == nil {
		// Before 8.5 the keyword has its old name (8.2 and 8.4 take
		// FIDO keys, but not under PubkeyAcceptedAlgorithms).
		h.Keyword = OldAlgorithmsKeyword
	}
	for _, a := range want {
		if b.Accepts(ctx, h.keyword()+"="+a) == nil {
			h.Algorithms = append(h.Algorithms, a)
		}
	}
	if len(h.Algorithms) == 0 {
		return nil, fail.New(fail.Failed, "install an OpenSSH built with security key support (8.2 or later; Debian and Ubuntu's are), or apply without --hardware-keys-only",
			"this sshd accepts no FIDO key algorithm (%s); nothing was written", strings.Join(want, ", "))
	}
	if b.Accepts(ctx, "PubkeyAuthOptions="+h.AuthOptions()) != nil {
		return nil, fail.New(fail.Failed, "install OpenSSH 8.4 or later, or apply without --require-verify",
			"this sshd does not take PubkeyAuthOptions %s; nothing was written", h.AuthOptions())
	}
	return h, nil
}

// InstalledHardwareKeys reads whether the account's installed Match block
// (templates.ForwardFile next to mainConfig) takes hardware-backed keys
// only: its PubkeyAcceptedAlgorithms names only FIDO algorithms. The
// installed block is the source of truth for this policy, as for the
// targets: apply without --hardware-keys-only keeps it, and add-key
// refuses plain keys for the account. nil: no such policy (or no block).
func InstalledHardwareKeys(root hostfs.Root, mainConfig, account string) (*HardwareKeys, error) {
	b, found, err := installedBlock(root, mainConfig, account)
	if err != nil || !found || len(b.algorithms) == 0 {
		return nil, err
	}
	h := &HardwareKeys{Algorithms: b.algorithms, Keyword: b.algKeyword}
	for _, a := range b.algorithms {
		if !keyline.IsHardware(a) {
			// Not pfwdctl's policy (an edited block): no claim that
			// plain keys are refused.
			return nil, nil
		}
	}
	for _, o := range b.authOptions {
		if o == "verify-required" {
			h.RequireVerify = true
		}
	}
	return h, nil
}

// hardwareFlags is what Params.Command adds for h.
func hardwareFlags(h *HardwareKeys) string {
	switch {
	case h == nil:
		return ""
	case h.RequireVerify:
		return " --hardware-keys-only --require-verify"
	}
	return " --hardware-keys-only"
}
