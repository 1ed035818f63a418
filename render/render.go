package render

import (
	"bytes"
	"strings"
	"sync"
	"text/template"

	"github.com/pfwdctl/pfwdctl/templates"
)

// File is one rendered drop-in.
type File struct {
	Name string // base name, e.g. 10-hardening.conf
	Data []byte
}

// tmpl parses the embedded templates on first use, not at package init:
// parsing costs thousands of allocations, and every pfwdctl command links
// render, most without rendering anything (pfwdctl --version, list-keys).
var tmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Option("missingkey=error").ParseFS(templates.FS, "*.tmpl"))
})

// Render fills in the embedded templates. Params are validated first, so no
// value can carry a newline or quote into the output.
func Render(p Params) ([]File, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	data := map[string]string{
		"User":       p.User,
		"Nologin":    p.Nologin,
		"PermitOpen": strings.Join(p.TargetStrings(), " "),
		"Command":    p.Command(),
		// The baseline and crypto files are the same for every account:
		// their header names no account, so applying one account never
		// rewrites them for another.
		"GlobalCommand":   globalCommand(p),
		"PermitRootLogin": p.RootLogin(),
		"CA":              caLines(p.User, p.CA),
		"Hardware":        hardwareLines(p.HardwareKeys),
	}
	names := []string{templates.Hardening, templates.Forward}
	if c := p.Crypto; c != nil {
		data["SshdVersion"] = c.SshdVersion
		data["PolicySource"] = c.Source
		data["KexAlgorithms"] = strings.Join(c.KexAlgorithms, ",")
		data["Ciphers"] = strings.Join(c.Ciphers, ",")
		data["MACs"] = strings.Join(c.MACs, ",")
		data["HostKeyAlgorithms"] = strings.Join(c.HostKeyAlgorithms, ",")
		data["Extra"] = cryptoExtra(c)
		// In the order sshd reads them.
		names = []string{templates.Hardening, templates.Crypto, templates.Forward}
	}
	var files []File
	for _, name := range names {
		var b bytes.Buffer
		if err := tmpl().ExecuteTemplate(&b, name+".tmpl", data); err != nil {
			return nil, err
		}
		if name == templates.Forward {
			name = templates.ForwardFile(p.User)
		}
		files = append(files, File{Name: name, Data: b.Bytes()})
	}
	return files, nil
}

// cryptoExtra is the crypto unit's optional lines: the filtered moduli
// file and the host keys in the policy's order.
func cryptoExtra(c *Crypto) string {
	var b strings.Builder
	if c.ModuliFile != "" {
		b.WriteString("# Group exchange only with the host's primes of 3072 bits and more.\n")
		b.WriteString("ModuliFile " + c.ModuliFile + "\n")
	}
	if len(c.HostKeys) > 0 {
		b.WriteString("# Ed25519 first; no ECDSA (NIST curve) key is offered.\n")
		for _, k := range c.HostKeys {
			b.WriteString("HostKey " + k + "\n")
		}
	}
	return b.String()
}

// globalCommand re-renders the baseline, which is the same for every
// forward account: "pfwdctl apply", with the root login choice when it is
// not the default.
func globalCommand(p Params) string {
	if p.RootLogin() != RootLoginNo {
		return "pfwdctl apply --permit-root-login " + p.RootLogin()
	}
	return "pfwdctl apply"
}
