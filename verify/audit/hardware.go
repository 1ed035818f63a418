package audit

import (
	"fmt"
	"strings"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// hardwareKeywords are the Match block lines of apply --hardware-keys-only:
// judged by hardwareChecks (what sshd -T says the account accepts), not
// compared word for word by effectiveChecks.
var hardwareKeywords = map[string]bool{"pubkeyacceptedalgorithms": true, "pubkeyacceptedkeytypes": true, "pubkeyauthoptions": true}

// installedHardwareKeys is the policy the account's installed Match block
// has (render.InstalledHardwareKeys), with the algorithm list apply would
// render on this sshd, so that the expected block is apply's; nil: none.
func (a *auditor) installedHardwareKeys() *render.HardwareKeys {
	inst, err := render.InstalledHardwareKeys(a.o.Root, a.mainConfig(), a.o.Params.User)
	if err != nil || inst == nil {
		return nil
	}
	if h, err := render.ProbeHardwareKeys(a.ctx, a.sshd, a.o.Params.CA != nil, inst.RequireVerify); err == nil {
		return h
	}
	return inst
}

// hardwareChecks: for an account that takes hardware-backed keys only,
// sshd -T -C user=ACCOUNT must say so: PubkeyAcceptedAlgorithms names FIDO
// algorithms only, and PubkeyAuthOptions has touch-required (and
// verify-required with --require-verify). Another line that wins over the
// Match block's (an earlier Match block, an edit) is named with its place.
func (a *auditor) hardwareChecks(fwd map[string][]string) {
	pol := a.o.Params.HardwareKeys
	if pol == nil {
		return
	}
	u := a.o.Params.User
	c := &connInfo{u}
	kw := "pubkeyacceptedalgorithms"
	accepted := fwd[kw]
	if len(accepted) == 0 {
		kw, accepted = "pubkeyacceptedkeytypes", fwd["pubkeyacceptedkeytypes"]
	}
	var plain []string
	for _, v := range accepted {
		for _, alg := range strings.Split(v, ",") {
			if alg != "" && !keyline.IsHardware(alg) {
				plain = append(plain, alg)
			}
		}
	}
	bad := 0
	report := func(kw, title, detail string) {
		bad++
		f := Finding{ID: "fido.policy", Severity: Fail, Title: title, Detail: detail,
			Fix: "run pfwdctl apply (it keeps --hardware-keys-only)"}
		if w := a.winner(kw, c); w != nil {
			f.File, f.Line = w.File, w.Num
			if !a.ours(a.forwardFile(), w) {
				f.Fix = fmt.Sprintf("delete the line at %s (or narrow its Match block so it does not match %s)", w.At(), u)
			}
		}
		a.add(f)
	}
	switch {
	case len(accepted) == 0:
		report(kw, fmt.Sprintf("sshd -T prints no PubkeyAcceptedAlgorithms for %s, which should take hardware-backed keys only", u),
			"without it sshd takes every key type it knows")
	case len(plain) > 0:
		report(kw, fmt.Sprintf("sshd takes plain keys for %s, which should take hardware-backed (FIDO) keys only: %s", u, strings.Join(plain, ",")),
			"a plain key (its private half a file that can be copied) logs in without a touch on a token")
	}
	opts := strings.Fields(strings.Join(fwd["pubkeyauthoptions"], " "))
	has := func(o string) bool {
		for _, x := range opts {
			if x == o {
				return true
			}
		}
		return false
	}
	if !has("touch-required") {
		report("pubkeyauthoptions", fmt.Sprintf("PubkeyAuthOptions for %s lacks touch-required", u),
			"a key line's no-touch-required then lets a FIDO key log in without a touch")
	}
	if pol.RequireVerify && !has("verify-required") {
		report("pubkeyauthoptions", fmt.Sprintf("PubkeyAuthOptions for %s lacks verify-required (apply --require-verify)", u),
			"a FIDO key then logs in with a touch alone, without the token's PIN or biometric")
	}
	if bad == 0 {
		what := "a touch on the token"
		if pol.RequireVerify {
			what += " and its PIN or biometric"
		}
		a.ok("fido.policy", "sshd -T: %s takes hardware-backed (FIDO) keys only (%s), with %s at every login", u, strings.Join(accepted, ","), what)
	}
}
