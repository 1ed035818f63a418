// Package render turns pfwdctl's parameters into the sshd drop-ins and
// installs them in one transaction (Applier): lockout guard, atomic writes,
// sshd -t over the whole config with rollback, then reload. Running sshd
// and reloading it are internal/sshd's job; render only calls it.
//
// It never writes outside the hostfs.Root it is given, never builds config text
// except from the embedded templates, and never leaves a config on disk that
// sshd -t rejected.
package render

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

// DefaultUser and DefaultTarget are the seed guide's account and service,
// DefaultNologin the account's shell and ForceCommand.
const (
	DefaultUser    = accounts.DefaultUser
	DefaultTarget  = target.Default
	DefaultNologin = accounts.DefaultNologin
)

// Params are everything the drop-ins depend on.
type Params struct {
	User    string
	Targets []target.Target
	// Nologin is the shell and ForceCommand for the account.
	Nologin string
	// Crypto, when set, adds the crypto drop-in (apply --crypto). Nil
	// renders exactly the two drop-ins, as before.
	Crypto *Crypto
	// CA, when set, makes the account's Match block trust a pfwdctl user
	// CA (apply --ca; see ca.go). Nil renders no CA lines.
	CA *CA
	// HardwareKeys, when set, makes the account's Match block take
	// hardware-backed (FIDO) keys only (apply --hardware-keys-only; see
	// hardware.go). Nil renders no such lines.
	HardwareKeys *HardwareKeys
	// PermitRootLogin is the baseline's value: "" or RootLoginNo (the
	// guide's), or RootLoginKeys for hosts whose admin logs in as root
	// with a key (cloud images). Nothing else: "yes" would let a root
	// password in.
	PermitRootLogin string
}

// The PermitRootLogin values apply may write.
const (
	RootLoginNo   = "no"
	RootLoginKeys = "prohibit-password"
)

// RootLogin is the PermitRootLogin value rendered.
func (p Params) RootLogin() string {
	if p.PermitRootLogin == "" {
		return RootLoginNo
	}
	return p.PermitRootLogin
}

// Crypto is the algorithm policy for the crypto drop-in. render does not
// choose algorithms: the caller fills this in from a policy (verify/audit's
// CryptoPolicy) for the sshd version at hand.
type Crypto struct {
	SshdVersion       string // e.g. "9.2", for the file's comment
	Source            string // the public reference the policy follows
	KexAlgorithms     []string
	Ciphers           []string
	MACs              []string
	HostKeyAlgorithms []string
	// ModuliFile, when set, is the pfwdctl-owned moduli file sshd reads
	// for group exchange (ModuliFile, taken by 9.x builds), and Moduli its
	// content: the host's own primes of 3072 bits and more (ssh-audit's
	// guides filter /etc/ssh/moduli the same way). apply writes it next
	// to the main config, root's, 0644.
	ModuliFile string
	Moduli     []byte `json:"-"`
	// HostKeys are the host key files sshd should load, ed25519 first and
	// only the policy's types; empty: sshd's own list stands.
	HostKeys []string
}

// ModuliName is the file name of pfwdctl's filtered moduli, next to the
// main config.
const ModuliName = "pfwdctl.moduli"

// pathRE is an absolute path that a config line cannot be bent by.
var pathRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/[A-Za-z0-9@._+/-]+$`) })

// algRE is an SSH algorithm name (RFC 4251 section 6): no spaces, commas or
// quotes can reach the config.
var algRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9@._+-]{0,63}$`) })

// sourceRE keeps the comment line to one line of plain text.
var sourceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9 ,.:/()'_+-]{0,200}$`) })

// Validate refuses empty lists and names that are not algorithm names.
func (c *Crypto) Validate() error {
	for _, l := range []struct {
		kw   string
		algs []string
	}{{"KexAlgorithms", c.KexAlgorithms}, {"Ciphers", c.Ciphers}, {"MACs", c.MACs}, {"HostKeyAlgorithms", c.HostKeyAlgorithms}} {
		if len(l.algs) == 0 {
			return fail.New(fail.Usage, "", "crypto policy: %s is empty", l.kw)
		}
		for _, a := range l.algs {
			if !algRE().MatchString(a) {
				return fail.New(fail.Usage, "", "crypto policy: %s: invalid algorithm name %q", l.kw, a)
			}
		}
	}
	if !sourceRE().MatchString(c.Source) || !sourceRE().MatchString(c.SshdVersion) {
		return fail.New(fail.Usage, "", "crypto policy: invalid source or version text")
	}
	for _, p := range append([]string{c.ModuliFile}, c.HostKeys...) {
		if p != "" && (len(p) > 255 || !pathRE().MatchString(p)) {
			return fail.New(fail.Usage, "", "crypto policy: invalid path %q", p)
		}
	}
	if (c.ModuliFile == "") != (len(c.Moduli) == 0) {
		return fail.New(fail.Usage, "", "crypto policy: a moduli file needs its content")
	}
	return nil
}

// DefaultParams is the seed guide's setup.
func DefaultParams() Params {
	t, _ := target.Parse(DefaultTarget)
	return Params{User: DefaultUser, Targets: []target.Target{t}, Nologin: DefaultNologin}
}

// NewParams validates a user and raw targets; empty targets mean the default.
func NewParams(user string, targets []string) (Params, error) {
	p := DefaultParams()
	if user != "" {
		p.User = user
	}
	if err := accounts.ValidateName(p.User); err != nil {
		return p, err
	}
	if len(targets) > 0 {
		ts, err := target.ParseList(targets)
		if err != nil {
			return p, err
		}
		p.Targets = ts
	}
	return p, nil
}

// Validate re-checks params built by hand.
func (p Params) Validate() error {
	if err := accounts.ValidateName(p.User); err != nil {
		return err
	}
	if len(p.Targets) == 0 {
		return fail.New(fail.Usage, "give at least one --target host:port", "no forward target")
	}
	for _, t := range p.Targets {
		if _, err := target.Parse(t.String()); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(p.Nologin, "/") || strings.ContainsFunc(p.Nologin, func(r rune) bool { return r <= ' ' || r == '"' }) {
		return fail.New(fail.Usage, "", "invalid nologin path %q", p.Nologin)
	}
	if p.HardwareKeys != nil {
		if err := p.HardwareKeys.Validate(); err != nil {
			return err
		}
	}
	switch p.PermitRootLogin {
	case "", RootLoginNo, RootLoginKeys:
	default:
		return fail.New(fail.Usage, "use no (the default) or prohibit-password (root logs in with a key only)", "invalid --permit-root-login %q", p.PermitRootLogin)
	}
	if p.Crypto != nil {
		return p.Crypto.Validate()
	}
	return nil
}

// TargetStrings returns the targets as host:port strings.
func (p Params) TargetStrings() []string {
	out := make([]string, len(p.Targets))
	for i, t := range p.Targets {
		out[i] = t.String()
	}
	return out
}

// Command is the pfwdctl invocation that renders these params, for the
// files' "re-render with" header.
func (p Params) Command() string {
	var b strings.Builder
	b.WriteString("pfwdctl apply --user " + p.User)
	for _, t := range p.Targets {
		fmt.Fprintf(&b, " --target %s", t)
	}
	b.WriteString(hardwareFlags(p.HardwareKeys))
	return b.String()
}
