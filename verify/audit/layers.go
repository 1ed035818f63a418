package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// Layer is one restriction layer proved alone.
type Layer struct {
	ID    string `json:"id"`   // "key-options" or "match-block"
	Name  string `json:"name"` // "layer 1 (key options)"
	Holds bool   `json:"holds"`
	// Unproven: the lab could not be used (sshd did not start, the login
	// was refused), so the layer was not tested either way. Holds is
	// false too: nothing good is claimed.
	Unproven bool   `json:"unproven,omitempty"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
	// Failed are the verify checks that failed in the lab.
	Failed []string       `json:"failed,omitempty"`
	Verify *verify.Report `json:"verify,omitempty"`
}

// LayersReport is the layer proof.
type LayersReport struct {
	LabUser string  `json:"lab_user"`
	Layers  []Layer `json:"layers"`
}

// permissiveBlock stands in for the Match User block in the layer 1 lab:
// the daemon allows the account everything the key options are meant to
// limit (local forwards to any target, a terminal, X11, agent, tun), so
// only the key options can refuse them. Remote (-R) and Unix-socket
// forwards stay off: once port-forwarding is on, no key option can refuse
// them again (authorized_keys(5) has no such option; permitlisten only
// narrows -R), so keeping them off is always the daemon's job.
func permissiveBlock(user string) string {
	return "# pfwdctl audit --layers: the Match User block replaced by one that allows\n" +
		"# what the key options must refuse, so that only they stand.\n" +
		"Match User " + user + "\n" +
		"    AllowTcpForwarding local\n    PermitOpen any\n    PermitTTY yes\n    X11Forwarding yes\n" +
		"    AllowAgentForwarding yes\n    PermitTunnel yes\n" +
		"Match all\n"
}

// installedDropIns reads pfwdctl's drop-ins as installed on the host,
// with the account in Match lines renamed to the lab's.
func (a *auditor) installedDropIns(labUser string) []render.File {
	var out []render.File
	for _, name := range []string{templates.Hardening, templates.Crypto, a.forwardFile()} {
		data, found := a.unit(name)
		if !found {
			continue
		}
		if name == a.forwardFile() {
			name = templates.ForwardFile(labUser)
			// apply --hardware-keys-only says which keys may log in, not
			// what a logged-in key may do; the lab logs in with a plain
			// key of its own (hardwareChecks proves the policy).
			data = withoutKeywords(data, "pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes", "pubkeyauthoptions")
		}
		if name == templates.Crypto {
			// The lab has its own host key and needs no group exchange:
			// the host's HostKey and ModuliFile lines stay out of it.
			data = withoutKeywords(data, "hostkey", "modulifile")
		}
		out = append(out, render.File{Name: name, Data: remapUser(data, a.o.Params.User, labUser)})
	}
	return out
}

// remapUser renames user in the patterns of every Match User line.
func remapUser(data []byte, from, to string) []byte {
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		parsed, err := sshdconf.Parse([]byte(raw))
		if err != nil || len(parsed) != 1 || parsed[0].Keyword != "match" {
			continue
		}
		args := parsed[0].Args
		for j := 0; j+1 < len(args); j++ {
			if strings.EqualFold(args[j], "user") {
				pats := strings.Split(args[j+1], ",")
				for k, p := range pats {
					if strings.TrimPrefix(p, "!") == from {
						pats[k] = strings.Replace(p, from, to, 1)
					}
				}
				args[j+1] = strings.Join(pats, ",")
			}
		}
		indent := raw[:len(raw)-len(strings.TrimLeft(raw, " \t"))]
		lines[i] = indent + "Match " + strings.Join(args, " ")
	}
	return []byte(strings.Join(lines, "\n"))
}

// installedKeyOptions returns the option text of each distinct key line of
// the account (at most three: a lab each), or the standard options when
// the account has no key yet.
func (a *auditor) installedKeyOptions(targets []target.Target) ([]string, error) {
	var out []string
	if a.hasAcct {
		data, _ := a.read(filepath.Join(a.account.Home, ".ssh/authorized_keys"))
		seen := map[string]bool{}
		for _, raw := range strings.Split(string(data), "\n") {
			line := strings.TrimSpace(raw)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			// Every option text as written, even one keyline judges
			// wrong: the lab shows what sshd makes of it.
			kl, err := keyline.SplitLine(line)
			if err != nil || seen[kl.Options] {
				continue
			}
			seen[kl.Options] = true
			out = append(out, withoutTokenOptions(kl.Options))
		}
	}
	if len(out) == 0 {
		var ts []string
		for _, t := range targets {
			ts = append(ts, t.String())
		}
		std, err := keyline.Prefix(keyline.Options{Targets: ts})
		if err != nil {
			return nil, err
		}
		out = []string{std}
	}
	if len(out) > 3 {
		out = out[:3]
	}
	// A certificate from pfwdctl's CA (apply --ca) logs in under its
	// principals line's options: they get a lab too, as a key's would.
	for _, opts := range a.principalsOptions() {
		if !slices.Contains(out, opts) {
			out = append(out, opts)
		}
	}
	return out, nil
}

// layers starts the lab sshds and runs verify against each. Nothing on the
// host changes: every lab lives in its own temp directory on 127.0.0.1.
func (a *auditor) layers(ctx context.Context) (*LayersReport, error) {
	labUser, err := lab.DefaultUser()
	if err != nil {
		return nil, err
	}
	rep := &LayersReport{LabUser: labUser}
	targets := a.o.Params.Targets
	dropIns := a.installedDropIns(labUser)

	type job struct {
		layer   int // 1 or 2
		opts    lab.Options
		options string
	}
	var jobs []job
	// Layer 1: the key options as installed, no Match User block.
	var noMatch []render.File
	for _, f := range dropIns {
		if f.Name == templates.ForwardFile(labUser) {
			f = render.File{Name: f.Name, Data: []byte(permissiveBlock(labUser))}
		}
		noMatch = append(noMatch, f)
	}
	if !hasFile(noMatch, templates.ForwardFile(labUser)) {
		noMatch = append(noMatch, render.File{Name: templates.ForwardFile(labUser), Data: []byte(permissiveBlock(labUser))})
	}
	keyOpts, err := a.installedKeyOptions(targets)
	if err != nil {
		return nil, err
	}
	for _, opts := range keyOpts {
		o := lab.Options{Sshd: a.o.SshdBin, Targets: targets, DropIns: noMatch, KeyOptions: opts, BareKey: opts == ""}
		jobs = append(jobs, job{1, o, opts})
	}
	// Layer 2: the drop-ins as installed, the key bare.
	if dropIns == nil {
		dropIns = []render.File{}
	}
	jobs = append(jobs, job{2, lab.Options{Sshd: a.o.SshdBin, Targets: targets, DropIns: dropIns, BareKey: true}, ""})

	results := make([]*verify.Report, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := lab.Start(ctx, j.opts)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			// The lab's own options keep socket probes and remote-socket
			// listens inside its temp dir: never the host's /tmp, dbus or
			// journald.
			results[i], errs[i] = verify.Run(ctx, s.VerifyOptions())
		}()
	}
	wg.Wait()

	l1 := Layer{ID: "key-options", Name: "layer 1 (key options)", Holds: true}
	l2 := Layer{ID: "match-block", Name: "layer 2 (Match User block)", Holds: true}
	var d1 []string
	for i, j := range jobs {
		l := &l1
		if j.layer == 2 {
			l = &l2
		}
		rep, err := results[i], errs[i]
		if err != nil {
			// A lab that does not start or a login that is refused proves
			// nothing about escapes, and the tunnel cannot work either.
			l.Holds, l.Unproven = false, true
			l.Detail = "not tested: the lab could not be used: " + oneLine(err.Error())
			continue
		}
		l.Verify = rep
		if !rep.Passed {
			l.Holds = false
			l.Failed = append(l.Failed, rep.Failed()...)
		}
		if j.layer == 1 {
			d1 = append(d1, fmt.Sprintf("key options %q", j.options))
		}
	}
	if l1.Detail == "" {
		l1.Detail = fmt.Sprintf("lab sshd with the installed drop-ins, the Match User block replaced by one that allows local forwards to any target, a terminal, X11, agent and tun, and the key installed with %s", strings.Join(d1, "; "))
		if len(l1.Failed) > 0 {
			l1.Detail += "; verify failed: " + strings.Join(l1.Failed, ", ")
		}
	}
	if l2.Detail == "" {
		l2.Detail = "lab sshd with the drop-ins as installed (account remapped to " + labUser + ") and the key installed bare, without any option"
		if len(l2.Failed) > 0 {
			l2.Detail += "; verify failed: " + strings.Join(l2.Failed, ", ")
		}
	}
	if l1.Unproven || l2.Unproven {
		for _, l := range []*Layer{&l1, &l2} {
			if l.Unproven {
				l.Fix = "fix what the lab reports (pfwdctl lab --sshd " + a.o.SshdBin + " shows the same start), then run pfwdctl audit --layers again"
			}
		}
	}
	if !l1.Holds && !l1.Unproven {
		prefix, _ := keyline.Prefix(keyline.Options{Targets: a.rep.Targets})
		l1.Fix = "give every key of " + a.o.Params.User + " the prefix " + prefix + " (pfwdctl add-key writes it)"
	}
	if !l2.Holds && !l2.Unproven {
		l2.Fix = "run pfwdctl apply: it installs the Match User " + a.o.Params.User + " block as rendered"
	}
	rep.Layers = []Layer{l1, l2}
	return rep, nil
}

func hasFile(fs []render.File, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// withoutKeywords is a config text without the lines setting kws.
// withoutTokenOptions drops verify-required and no-touch-required from a
// key's option text: they ask things of a FIDO token's signature, not of
// the session, and the layer-1 lab logs in with a plain key.
func withoutTokenOptions(opts string) string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i <= len(opts); i++ {
		if i < len(opts) {
			if opts[i] == '\\' && quoted && i+1 < len(opts) {
				i++
				continue
			}
			if opts[i] == '"' {
				quoted = !quoted
			}
			if opts[i] != ',' || quoted {
				continue
			}
		}
		p := opts[start:i]
		if n := strings.ToLower(p); n != "verify-required" && n != "no-touch-required" {
			parts = append(parts, p)
		}
		start = i + 1
	}
	return strings.Join(parts, ",")
}

func withoutKeywords(data []byte, kws ...string) []byte {
	var out []string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && slices.Contains(kws, strings.ToLower(f[0])) {
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, ""))
}
