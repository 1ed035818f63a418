package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
)

// PolicySource names the public references the crypto policy follows
// (docs/crypto-policy.md explains each choice).
const PolicySource = "ssh-audit.com hardening guides (OpenSSH) and Mozilla's OpenSSH guideline"

// alg is one algorithm of the policy, in order of preference, with the
// OpenSSH release that brought it.
type alg struct {
	name  string
	since sshd.Version
}

// The policy. Key exchange: post-quantum hybrids first, then Curve25519,
// then the large fixed MODP groups; no NIST curves (ssh-audit fails them),
// no SHA-1, and no group-exchange (its strength depends on /etc/ssh/moduli,
// which ssh-audit's guides prune first and pfwdctl does not touch). Ciphers:
// AEAD first, CTR for older clients, never CBC. MACs: encrypt-then-MAC with
// SHA-2 or 128-bit UMAC only. Host keys: Ed25519 and RSA with SHA-2, no
// ECDSA (NIST curves) and no ssh-rsa (SHA-1).
var (
	policyKex = []alg{
		{"mlkem768x25519-sha256", sshd.Version{Major: 9, Minor: 9}},
		{"sntrup761x25519-sha512", sshd.Version{Major: 9, Minor: 9}},
		{"sntrup761x25519-sha512@openssh.com", sshd.Version{Major: 8, Minor: 5}},
		{"curve25519-sha256", sshd.Version{Major: 7, Minor: 4}},
		{"curve25519-sha256@libssh.org", sshd.Version{Major: 6, Minor: 5}},
		{"diffie-hellman-group16-sha512", sshd.Version{Major: 7, Minor: 3}},
		{"diffie-hellman-group18-sha512", sshd.Version{Major: 7, Minor: 3}},
	}
	policyCiphers = []alg{
		{"chacha20-poly1305@openssh.com", sshd.Version{Major: 6, Minor: 5}},
		{"aes256-gcm@openssh.com", sshd.Version{Major: 6, Minor: 2}},
		{"aes128-gcm@openssh.com", sshd.Version{Major: 6, Minor: 2}},
		{"aes256-ctr", sshd.Version{Major: 3, Minor: 7}},
		{"aes192-ctr", sshd.Version{Major: 3, Minor: 7}},
		{"aes128-ctr", sshd.Version{Major: 3, Minor: 7}},
	}
	policyMACs = []alg{
		{"hmac-sha2-512-etm@openssh.com", sshd.Version{Major: 6, Minor: 2}},
		{"hmac-sha2-256-etm@openssh.com", sshd.Version{Major: 6, Minor: 2}},
		{"umac-128-etm@openssh.com", sshd.Version{Major: 6, Minor: 2}},
	}
	policyHostKeyAlgs = []alg{
		{"ssh-ed25519", sshd.Version{Major: 6, Minor: 5}},
		{"ssh-ed25519-cert-v01@openssh.com", sshd.Version{Major: 6, Minor: 5}},
		{"sk-ssh-ed25519@openssh.com", sshd.Version{Major: 8, Minor: 2}},
		{"sk-ssh-ed25519-cert-v01@openssh.com", sshd.Version{Major: 8, Minor: 2}},
		{"rsa-sha2-512", sshd.Version{Major: 7, Minor: 2}},
		{"rsa-sha2-512-cert-v01@openssh.com", sshd.Version{Major: 7, Minor: 8}},
		{"rsa-sha2-256", sshd.Version{Major: 7, Minor: 2}},
		{"rsa-sha2-256-cert-v01@openssh.com", sshd.Version{Major: 7, Minor: 8}},
	}
)

func names(as []alg, v sshd.Version) []string {
	var out []string
	for _, a := range as {
		if v.AtLeast(a.since) {
			out = append(out, a.name)
		}
	}
	return out
}

// CryptoPolicy is the policy for one sshd version, ready for the crypto
// drop-in (apply --crypto).
func CryptoPolicy(v sshd.Version) render.Crypto {
	return render.Crypto{
		SshdVersion:       v.String(),
		Source:            PolicySource,
		KexAlgorithms:     names(policyKex, v),
		Ciphers:           names(policyCiphers, v),
		MACs:              names(policyMACs, v),
		HostKeyAlgorithms: names(policyHostKeyAlgs, v),
	}
}

// ProbedCryptoPolicy is the policy for the sshd b runs: every algorithm of
// the policy that this build accepts (sshd -t -o KIND=ALG), in the policy's
// order, whatever its version number says (Debian's 9.2 takes the plain
// sntrup761x25519-sha512 that upstream named in 9.9; a build without some
// algorithm refuses it). When sshd cannot be asked (it refuses the
// configuration as it is), the version decides (CryptoPolicy).
func ProbedCryptoPolicy(ctx context.Context, b sshd.Binary, v sshd.Version) render.Crypto {
	pol := CryptoPolicy(v)
	if b.Test(ctx) != nil {
		return pol
	}
	probe := func(kw string, as []alg) []string {
		var all []string
		for _, a := range as {
			all = append(all, a.name)
		}
		// One run for the whole list; one per name only when it is refused.
		if b.Accepts(ctx, kw+"="+strings.Join(all, ",")) == nil {
			return all
		}
		var out []string
		for _, n := range all {
			if b.Accepts(ctx, kw+"="+n) == nil {
				out = append(out, n)
			}
		}
		return out
	}
	pol.KexAlgorithms = probe("KexAlgorithms", policyKex)
	pol.Ciphers = probe("Ciphers", policyCiphers)
	pol.MACs = probe("MACs", policyMACs)
	pol.HostKeyAlgorithms = probe("HostKeyAlgorithms", policyHostKeyAlgs)
	// Group exchange comes back only where sshd takes a moduli file of
	// pfwdctl's own, holding the host's primes of 3072 bits and more.
	main := b.Config
	if main == "" {
		main = sshd.DefaultConfig
	}
	mf := filepath.Join(filepath.Dir(main), render.ModuliName)
	if b.Accepts(ctx, "ModuliFile="+mf) == nil && b.Accepts(ctx, "KexAlgorithms="+gexKex) == nil {
		if data := strongModuli(b.Root, filepath.Dir(main)); len(data) > 0 {
			pol.ModuliFile, pol.Moduli = mf, data
			pol.KexAlgorithms = append(pol.KexAlgorithms, gexKex)
		}
	}
	pol.HostKeys = policyHostKeys(b.Root, main)
	return pol
}

// gexKex is the group-exchange method the policy allows with a filtered
// moduli file.
const gexKex = "diffie-hellman-group-exchange-sha256"

// minModulusSize is the moduli file's Size column (bits minus one) of a
// 3072-bit prime.
const minModulusSize = 3071

// strongModuli is the host's moduli file (pfwdctl's own when it exists,
// else /etc/ssh/moduli) with only the primes of 3072 bits and more; nil
// when none is left.
func strongModuli(root hostfs.Root, dir string) []byte {
	data, err := root.ReadFile(filepath.Join(dir, render.ModuliName))
	if err != nil {
		if data, err = root.ReadFile(filepath.Join(dir, "moduli")); err != nil {
			return nil
		}
	}
	strong, _ := splitModuli(data)
	if len(strong) == 0 {
		return nil
	}
	return []byte("# Managed by pfwdctl apply --crypto: the primes of /etc/ssh/moduli of 3072 bits and more.\n" + strings.Join(strong, "\n") + "\n")
}

// splitModuli sorts a moduli file's prime lines (comments and blank lines
// aside) into those of 3072 bits and more and the others (too small, or
// not a 7-field line: nothing pfwdctl can vouch for).
func splitModuli(data []byte) (strong, weak []string) {
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) == 7 {
			if size, err := strconv.Atoi(f[4]); err == nil && size >= minModulusSize {
				strong = append(strong, strings.Join(f, " "))
				continue
			}
		}
		weak = append(weak, line)
	}
	return strong, weak
}

// moduliStrong says whether every prime in the moduli file at path (a
// host path) has 3072 bits or more.
func moduliStrong(root hostfs.Root, path string) bool {
	data, err := root.ReadFile(path)
	if err != nil {
		return false
	}
	strong, weak := splitModuli(data)
	return len(strong) > 0 && len(weak) == 0
}

// policyHostKeys are the host key files the config names (sshd's default
// files when it names none), Ed25519 first, then RSA; ECDSA and DSA keys
// are left out, as ssh-audit's guides do. Nil when no such key exists.
func policyHostKeys(root hostfs.Root, main string) []string {
	var paths []string
	if cfg, err := sshdconf.Load(root, main); err == nil {
		for _, l := range cfg.Lines {
			if l.Keyword == "hostkey" && l.Match == "" && len(l.Args) == 1 {
				paths = append(paths, l.Args[0])
			}
		}
	}
	if len(paths) == 0 {
		dir := filepath.Dir(main)
		for _, t := range []string{"rsa", "ecdsa", "ed25519"} {
			paths = append(paths, filepath.Join(dir, "ssh_host_"+t+"_key"))
		}
	}
	var ed, rsa []string
	for _, p := range paths {
		if slices.Contains(ed, p) || slices.Contains(rsa, p) {
			continue
		}
		pub, err := readHostPub(root, p)
		if err != nil {
			continue
		}
		switch pub.Type() {
		case ssh.KeyAlgoED25519:
			ed = append(ed, p)
		case ssh.KeyAlgoRSA:
			rsa = append(rsa, p)
		}
	}
	if len(ed) == 0 {
		return nil // nothing to put first: sshd's own list stands
	}
	return append(ed, rsa...)
}

// aliases are the names OpenSSH gives one algorithm: the policy may list
// one spelling and sshd print the other (9.9 added the plain
// sntrup761x25519-sha512, Debian's 9.2 already has it; curve25519-sha256
// is the RFC 8731 name of curve25519-sha256@libssh.org).
var aliases = map[string]string{
	"sntrup761x25519-sha512@openssh.com": "sntrup761x25519-sha512",
	"curve25519-sha256@libssh.org":       "curve25519-sha256",
}

// canonical is an algorithm's name with aliases folded.
func canonical(name string) string {
	if c, ok := aliases[name]; ok {
		return c
	}
	return name
}

// containsAlg says whether list names alg, under any of its names.
func containsAlg(list []string, alg string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return canonical(x) == canonical(alg) })
}

// knownAlgs is every key exchange, cipher, MAC and host key algorithm an
// OpenSSH release from 8.0 to 10.x can have in effect (ssh -Q and sshd -T
// of each release), with why it is outside the policy; the policy's own
// names are judged by the policy. A name in neither is reported as unknown
// to pfwdctl, never silently passed or failed.
var knownAlgs = map[string]string{
	"diffie-hellman-group1-sha1":                  "SHA-1, 1024-bit group",
	"diffie-hellman-group14-sha1":                 "SHA-1",
	"diffie-hellman-group14-sha256":               "2048-bit group",
	"diffie-hellman-group-exchange-sha1":          "SHA-1",
	"diffie-hellman-group-exchange-sha256":        "strength depends on /etc/ssh/moduli",
	"ecdh-sha2-nistp256":                          "NIST curve",
	"ecdh-sha2-nistp384":                          "NIST curve",
	"ecdh-sha2-nistp521":                          "NIST curve",
	"sntrup4591761x25519-sha512@tinyssh.org":      "withdrawn post-quantum method (8.0 to 8.4; replaced by sntrup761x25519)",
	"mlkem768nistp256-sha256":                     "NIST curve",
	"mlkem1024nistp384-sha384":                    "NIST curve",
	"3des-cbc":                                    "weak cipher",
	"aes128-cbc":                                  "CBC mode",
	"aes192-cbc":                                  "CBC mode",
	"aes256-cbc":                                  "CBC mode",
	"rijndael-cbc@lysator.liu.se":                 "CBC mode",
	"hmac-sha1":                                   "SHA-1",
	"hmac-sha1-96":                                "SHA-1",
	"hmac-sha1-etm@openssh.com":                   "SHA-1",
	"hmac-sha1-96-etm@openssh.com":                "SHA-1",
	"hmac-md5":                                    "MD5",
	"hmac-md5-96":                                 "MD5",
	"hmac-md5-etm@openssh.com":                    "MD5",
	"hmac-md5-96-etm@openssh.com":                 "MD5",
	"hmac-sha2-256":                               "MAC-then-encrypt where an -etm variant exists",
	"hmac-sha2-512":                               "MAC-then-encrypt where an -etm variant exists",
	"umac-64@openssh.com":                         "64-bit tag",
	"umac-64-etm@openssh.com":                     "64-bit tag",
	"umac-128@openssh.com":                        "MAC-then-encrypt where an -etm variant exists",
	"ecdsa-sha2-nistp256":                         "NIST curve",
	"ecdsa-sha2-nistp384":                         "NIST curve",
	"ecdsa-sha2-nistp521":                         "NIST curve",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com":    "NIST curve",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com":    "NIST curve",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com":    "NIST curve",
	"sk-ecdsa-sha2-nistp256@openssh.com":          "NIST curve",
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": "NIST curve",
	"webauthn-sk-ecdsa-sha2-nistp256@openssh.com": "NIST curve",
	"ssh-rsa":                      "SHA-1",
	"ssh-rsa-cert-v01@openssh.com": "SHA-1",
	"ssh-dss":                      "DSA",
	"ssh-dss-cert-v01@openssh.com": "DSA",
	"webauthn-sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": "NIST curve",
	// 10.5's experimental post-quantum hybrid signature: no scanner or
	// guide judges it yet, so the policy does not name it.
	"ssh-mldsa44-ed25519@openssh.com":          "experimental post-quantum signature (10.5), not yet in any hardening guide",
	"ssh-mldsa44-ed25519-cert-v01@openssh.com": "experimental post-quantum signature (10.5), not yet in any hardening guide",
	"ssh-xmss@openssh.com":                     "experimental (XMSS)",
	"ssh-xmss-cert-v01@openssh.com":            "experimental (XMSS)",
}

// inPolicy lists every algorithm any release's policy may name.
func inPolicy(name string) bool {
	for _, as := range [][]alg{policyKex, policyCiphers, policyMACs, policyHostKeyAlgs} {
		for _, a := range as {
			if canonical(a.name) == canonical(name) {
				return true
			}
		}
	}
	return false
}

// whyNot says why an algorithm in effect is outside the policy.
func whyNot(kind, a string) string {
	if why, ok := knownAlgs[a]; ok {
		return why
	}
	switch {
	case inPolicy(a):
		return "in the policy of another OpenSSH release, not this one"
	case strings.Contains(a, "nistp"):
		return "NIST curve"
	case strings.HasSuffix(a, "-sha1") || strings.Contains(a, "-sha1-") || strings.Contains(a, "sha1@"):
		return "SHA-1"
	case strings.Contains(a, "md5"):
		return "MD5"
	case strings.HasSuffix(a, "-cbc") || strings.Contains(a, "cbc@"):
		return "CBC mode"
	}
	return "unknown to pfwdctl: not in its table of OpenSSH 8.0 to 10.x algorithms"
}

// cryptoChecks compares the global effective algorithms with the policy
// and looks at the host keys.
func (a *auditor) cryptoChecks(global map[string][]string) {
	pol := a.cryptoPolicy()
	dropIn := a.layout.At(templates.Crypto)
	for _, c := range []struct {
		kw, label string
		want      []string
	}{
		{"kexalgorithms", "KexAlgorithms", pol.KexAlgorithms},
		{"ciphers", "Ciphers", pol.Ciphers},
		{"macs", "MACs", pol.MACs},
		{"hostkeyalgorithms", "HostKeyAlgorithms", pol.HostKeyAlgorithms},
	} {
		vals := global[c.kw]
		if len(vals) == 0 {
			continue
		}
		have := strings.Split(vals[0], ",")
		var extra []string
		for _, h := range have {
			if h == gexKex {
				// In the policy only over primes of 3072 bits and more,
				// whatever the list says.
				if !a.moduliStrong(global) {
					extra = append(extra, h+" (the moduli file in effect has primes under 3072 bits, or cannot be read)")
				}
				continue
			}
			if !containsAlg(c.want, h) && !strings.HasPrefix(h, "gss-") {
				extra = append(extra, fmt.Sprintf("%s (%s)", h, whyNot(c.kw, h)))
			}
		}
		var missingPQ []string
		if c.kw == "kexalgorithms" {
			for _, pq := range []string{"mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com"} {
				if slices.Contains(c.want, pq) && !containsAlg(have, pq) {
					missingPQ = append(missingPQ, pq)
				}
			}
		}
		if len(extra) == 0 && len(missingPQ) == 0 {
			continue
		}
		var detail []string
		if len(extra) > 0 {
			detail = append(detail, "outside the policy: "+strings.Join(extra, ", "))
		}
		if len(missingPQ) > 0 {
			detail = append(detail, "post-quantum key exchange this sshd supports is off: "+strings.Join(missingPQ, ", "))
		}
		f := Finding{
			ID:       "crypto." + c.kw,
			Severity: Warn,
			Title:    fmt.Sprintf("%s in effect do not follow the crypto policy for OpenSSH %s", c.label, a.version),
			Detail:   strings.Join(detail, "; "),
			Fix: fmt.Sprintf("run pfwdctl apply --crypto, or add this line to %s (a drop-in that sorts before any other that sets it):\n%s %s",
				dropIn, c.label, strings.Join(c.want, ",")),
		}
		if w := a.winner(c.kw, nil); w != nil {
			f.File, f.Line = w.File, w.Num
			f.Fix = fmt.Sprintf("replace %s at %s with the policy's list (or run pfwdctl apply --crypto and remove that line):\n%s %s",
				c.label, w.At(), c.label, strings.Join(c.want, ","))
		}
		a.add(f)
	}
	a.hostKeyChecks(global["hostkey"])
	if a.countID("crypto.") == 0 {
		a.ok("crypto", "key exchange, ciphers, MACs and host keys follow the crypto policy for OpenSSH %s", a.version)
	}
}

// moduliStrong: the moduli file sshd uses holds only primes of 3072 bits
// and more.
func (a *auditor) moduliStrong(global map[string][]string) bool {
	path := sshd.DefaultModuli
	if v := global["modulifile"]; len(v) > 0 {
		path = v[0]
		if !a.o.Root.IsHost() {
			path = a.o.Root.HostPath(path)
		}
	}
	return moduliStrong(a.o.Root, path)
}

func (a *auditor) countID(prefix string) int {
	n := 0
	for _, f := range a.rep.Findings {
		if strings.HasPrefix(f.ID, prefix) && f.Severity != OK {
			n++
		}
	}
	return n
}

// hostKeyChecks reads the public half of every HostKey sshd uses.
func (a *auditor) hostKeyChecks(paths []string) {
	ed, read := false, 0
	for _, p := range paths {
		hp := p
		if !a.o.Root.IsHost() {
			// sshd -T under a --root tree prints the paths it was given
			// (moved under the root, or a throwaway key).
			hp = a.o.Root.HostPath(p)
		}
		pub, err := readHostPub(a.o.Root, hp)
		if err != nil {
			continue
		}
		read++
		switch pub.Type() {
		case ssh.KeyAlgoED25519:
			ed = true
		case ssh.KeyAlgoDSA:
			a.add(Finding{ID: "crypto.hostkey", Severity: Warn, File: hp,
				Title: "DSA host key in use", Detail: "DSA is limited to 1024 bits and disabled by default since OpenSSH 7.0",
				Fix: "remove the line HostKey " + hp + " (and the key), keep the Ed25519 key"})
		case ssh.KeyAlgoRSA:
			if bits := rsaBits(pub); bits > 0 && bits < 3072 {
				a.add(Finding{ID: "crypto.hostkey", Severity: Warn, File: hp,
					Title:  fmt.Sprintf("RSA host key of %d bits", bits),
					Detail: "the policy wants RSA host keys of at least 3072 bits",
					Fix:    fmt.Sprintf("ssh-keygen -t rsa -b 4096 -N '' -f %s (clients will see a new host key)", hp)})
			}
		}
	}
	if !ed && read > 0 {
		a.add(Finding{ID: "crypto.hostkey", Severity: Warn, Title: "no Ed25519 host key",
			Fix: "ssh-keygen -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key, and add HostKey /etc/ssh/ssh_host_ed25519_key"})
	}
}

func readHostPub(root hostfs.Root, hostPath string) (ssh.PublicKey, error) {
	data, err := root.ReadFile(hostPath + ".pub")
	if err == nil {
		pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
		return pub, err
	}
	priv, err := root.ReadFile(hostPath)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return s.PublicKey(), nil
}

func rsaBits(pub ssh.PublicKey) int {
	if cp, ok := pub.(ssh.CryptoPublicKey); ok {
		type bitLen interface{ Size() int }
		if k, ok := cp.CryptoPublicKey().(bitLen); ok {
			return k.Size() * 8
		}
	}
	return 0
}

// cryptoPolicy is ProbedCryptoPolicy for the audited sshd, asked once.
func (a *auditor) cryptoPolicy() render.Crypto {
	if a.policy == nil {
		p := ProbedCryptoPolicy(a.ctx, a.sshd, a.version)
		a.policy = &p
	}
	return *a.policy
}

// AlgorithmKnown says whether audit judges name by what it is (the policy
// or its table of OpenSSH 8.0 to 10.x algorithms), not as unknown.
func AlgorithmKnown(name string) bool {
	return inPolicy(name) || knownAlgs[name] != "" || strings.HasPrefix(name, "gss-")
}
