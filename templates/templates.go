// Package templates embeds the sshd drop-ins pfwdctl renders. The files are
// plain text/template sources so an admin can read exactly what will land in
// /etc/ssh/sshd_config.d; render/ fills them in and never builds config text
// any other way.
package templates

import "embed"

// FS holds every *.tmpl file.
//
//go:embed *.tmpl
var FS embed.FS

// Drop-in names, in the order sshd reads them.
const (
	Hardening = "10-hardening.conf"
	Forward   = "20-pfwd-only.conf"
	// Crypto is rendered only on request (apply --crypto). It sorts after
	// the hardening baseline (they set different keywords) and before
	// 50-cloud-init.conf and the main file, so its algorithm lists win.
	Crypto = "15-crypto.conf"
)
