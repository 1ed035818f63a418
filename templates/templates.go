// Package templates embeds the sshd drop-ins pfwdctl renders. The files are
// plain text/template sources so an admin can read exactly what will land in
// /etc/ssh/sshd_config.d; render/ fills them in and never builds config text
// any other way.
package templates

import (
	"embed"
	"strings"
)

// FS holds every *.tmpl file.
//
//go:embed *.tmpl
var FS embed.FS

// Drop-in names, in the order sshd reads them.
const (
	Hardening = "10-hardening.conf"
	// Forward is the default account's Match block (ForwardFile("pfwd")),
	// the seed guide's name; it is also the template's.
	Forward = "20-pfwd-only.conf"
	// Crypto is rendered only on request (apply --crypto). It sorts after
	// the hardening baseline (they set different keywords) and before
	// 50-cloud-init.conf and the main file, so its algorithm lists win.
	Crypto = "15-crypto.conf"
)

// ForwardFile is the drop-in holding account's Match User block. Each
// forward-only account has its own, so a change to one account never
// rewrites another's; the default account keeps the seed guide's name.
func ForwardFile(account string) string { return "20-" + account + "-only.conf" }

// ForwardAccount is the account named by a ForwardFile name, if it is one.
func ForwardAccount(name string) (account string, ok bool) {
	rest, ok := strings.CutPrefix(name, "20-")
	if !ok {
		return "", false
	}
	account, ok = strings.CutSuffix(rest, "-only.conf")
	return account, ok && account != ""
}
