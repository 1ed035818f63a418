package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// manDate is the date in every man page's header. It is fixed, not the
// build time, so `make man` is reproducible and the staleness test only
// fails when a command, flag or help text really changed.
var manDate = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// manEnv is the environment the man pages are generated in: nothing from
// the machine that runs `make man` (a $HOME in a flag default, a TTY) may
// leak into the checked-in pages.
func manEnv() *Env {
	return &Env{
		IO:     IO{In: strings.NewReader(""), Out: &strings.Builder{}, Err: &strings.Builder{}},
		Getenv: func(string) string { return "" },
		Now:    func() time.Time { return manDate },
	}
}

// genManPages writes pfwdctl.1 and one page per command (pfwdctl-apply.1,
// ...) into dir, and removes pages of commands that no longer exist.
// `make man` calls it through TestManPages -update; the .deb ships the
// result from docs/man.
func genManPages(dir string) error {
	root := NewRootCmd(&Globals{Env: manEnv()})
	root.DisableAutoGenTag = true // its footer carries today's date
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	hdr := &doc.GenManHeader{Section: "1", Date: &manDate, Source: "pfwdctl", Manual: "pfwdctl manual"}
	if err := doc.GenManTree(root, hdr, dir); err != nil {
		return fmt.Errorf("generate man pages: %w", err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(manSections(string(data))), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manFiles and manEnvironment are the FILES and ENVIRONMENT of every page.
var manFiles = [][2]string{
	{"/etc/ssh/sshd_config", "the main sshd config; it must Include sshd_config.d/*.conf"},
	{"/etc/ssh/sshd_config.d/10-hardening.conf", "the hardening baseline pfwdctl installs"},
	{"/etc/ssh/sshd_config.d/20-USER-only.conf", "the Match User block of each forward account (20-pfwd-only.conf for pfwd)"},
	{"~ACCOUNT/.ssh/authorized_keys", "the forward account's keys (or the effective AuthorizedKeysFile)"},
	{"/run/pfwdctl.lock", "held by every changing run"},
	{"/var/log/pfwdctl/audit.jsonl", "one JSON line per change"},
}

var manEnvironment = [][2]string{
	{"NO_COLOR", "plain output even on a terminal"},
	{"TERM", "dumb: plain output"},
	{"SSH_AUTH_SOCK", "the ssh-agent verify logs in with when --key is not given"},
	{"PFWDCTL_KEY_PASSPHRASE", "the passphrase of an encrypted --key"},
	{"SSH_CONNECTION, SSH_USER_AUTH, SUDO_USER", "read by the lockout guard to check the admin's own way back in"},
}

// manSections names cobra's EXAMPLE section EXAMPLES, and adds EXIT
// STATUS, FILES and ENVIRONMENT before SEE ALSO,
// and the OpenSSH pages to SEE ALSO: cobra's generator has none of them.
func manSections(page string) string {
	// man-pages(7) names the section EXAMPLES; cobra writes EXAMPLE.
	page = strings.Replace(page, "\n.SH EXAMPLE\n", "\n.SH EXAMPLES\n", 1)
	var b strings.Builder
	b.WriteString(".SH EXIT STATUS\n")
	for _, c := range fail.Codes {
		fmt.Fprintf(&b, ".TP\n\\fB%d\\fP\n%s\n", c.Code, c.Meaning)
	}
	b.WriteString("\n.SH FILES\n")
	for _, f := range manFiles {
		fmt.Fprintf(&b, ".TP\n\\fI%s\\fP\n%s\n", f[0], f[1])
	}
	b.WriteString(".PP\nEvery host path is taken under \\fB--root\\fP DIR when given.\n\n.SH ENVIRONMENT\n")
	for _, e := range manEnvironment {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fP\n%s\n", e[0], e[1])
	}
	b.WriteString("\n")
	const seeAlso = ".SH SEE ALSO\n"
	i := strings.Index(page, seeAlso)
	if i < 0 {
		return page + b.String() + seeAlso + openSSHPages + "\n"
	}
	rest := strings.TrimRight(page[i+len(seeAlso):], "\n")
	return page[:i] + b.String() + seeAlso + rest + ", " + openSSHPages + "\n"
}

const openSSHPages = "\\fBsshd_config(5)\\fP, \\fBsshd(8)\\fP, \\fBssh(1)\\fP, \\fBssh-keygen(1)\\fP"
