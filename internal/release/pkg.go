package release

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the "rpm" packager
)

// Formats are the package formats Describe's one file list is built into.
var Formats = []string{"deb", "rpm"}

// Input names what goes into a package: files built by `make dist` and
// the checkout they come from.
type Input struct {
	Repo          string // the checkout: docs/, README.md, internal/release/
	Binary        string // the stamped pfwdctl for Arch
	Arch          string // GOARCH: amd64, arm64
	Version       string // as the binary was stamped: v1.2.3, v1.2.3-rc1, or a git describe
	CompletionDir string // pfwdctl.bash, _pfwdctl, pfwdctl.fish
	Stage         string // a scratch dir for the gzipped man pages
}

// Describe is the one description both packages are built from: the same
// files, the same metadata, no maintainer scripts. Only the zsh completion's
// directory differs, because Debian's zsh and Fedora's look in different
// places (Content.Packager).
func Describe(in Input) (*nfpm.Info, error) {
	version, pre := PackageVersion(in.Version)
	contents := files.Contents{
		file(in.Binary, "/usr/bin/pfwdctl", 0o755),
		file(filepath.Join(in.CompletionDir, "pfwdctl.bash"), "/usr/share/bash-completion/completions/pfwdctl", 0o644),
		file(filepath.Join(in.CompletionDir, "pfwdctl.fish"), "/usr/share/fish/vendor_completions.d/pfwdctl.fish", 0o644),
		// Debian's zsh reads vendor-completions; Fedora's and RHEL's read
		// site-functions (neither reads the other's).
		onlyFor("deb", file(filepath.Join(in.CompletionDir, "_pfwdctl"), "/usr/share/zsh/vendor-completions/_pfwdctl", 0o644)),
		onlyFor("rpm", file(filepath.Join(in.CompletionDir, "_pfwdctl"), "/usr/share/zsh/site-functions/_pfwdctl", 0o644)),
		// The units go where the distribution's own packages put theirs,
		// disabled: no preset, no enable, no postinst (see doc.go).
		file(filepath.Join(in.Repo, "internal/release/systemd/pfwdctl-prune.service"), "/usr/lib/systemd/system/pfwdctl-prune.service", 0o644),
		file(filepath.Join(in.Repo, "internal/release/systemd/pfwdctl-prune.timer"), "/usr/lib/systemd/system/pfwdctl-prune.timer", 0o644),
		// An example, not /etc/cron.d: a live cron file would start pruning
		// and killing sessions on install; the admin copies it to opt in.
		file(filepath.Join(in.Repo, "internal/release/cron/pfwdctl-prune"), "/usr/share/doc/pfwdctl/examples/cron.d/pfwdctl-prune", 0o644),
		file(filepath.Join(in.Repo, "README.md"), "/usr/share/doc/pfwdctl/README.md", 0o644),
		file(filepath.Join(in.Repo, "internal/release/copyright"), "/usr/share/doc/pfwdctl/copyright", 0o644),
	}
	docs, err := filepath.Glob(filepath.Join(in.Repo, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		contents = append(contents, file(d, "/usr/share/doc/pfwdctl/docs/"+filepath.Base(d), 0o644))
	}
	man, err := gzipMan(filepath.Join(in.Repo, "docs/man"), in.Stage)
	if err != nil {
		return nil, err
	}
	for _, m := range man {
		contents = append(contents, file(m, "/usr/share/man/man1/"+filepath.Base(m), 0o644))
	}
	info := &nfpm.Info{
		Name:          "pfwdctl",
		Arch:          in.Arch,
		Platform:      "linux",
		Version:       version,
		Prerelease:    pre,
		VersionSchema: "none", // PackageVersion already split it
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "pfwdctl maintainers <maintainers@pfwdctl.invalid>",
		Vendor:        "pfwdctl",
		Homepage:      "https://github.com/pfwdctl/pfwdctl",
		License:       "see /usr/share/doc/pfwdctl/copyright",
		Description: `harden sshd and keep a port-forward-only account, and prove it
pfwdctl installs two sshd drop-ins, keeps a locked account that can only
forward to one local service, manages its keys, and verifies the result
with a real SSH client. Installing this package changes nothing: run
pfwdctl apply to configure sshd. The pfwdctl-prune.timer it ships is
disabled until you enable it.`,
		Overridables: nfpm.Overridables{
			Recommends: []string{"openssh-server"},
			Suggests:   []string{"openssh-client"},
			Contents:   contents,
			Umask:      0o022,
			Deb:        nfpm.Deb{Compression: "xz"},
			// BuildHost: the builder's host name would make two builds differ.
			RPM: nfpm.RPM{Summary: "harden sshd and keep a port-forward-only account, and prove it", Group: "Applications/System", Compression: "xz", BuildHost: "pfwdctl"},
		},
	}
	return nfpm.WithDefaults(info), nil
}

// Build writes the package of format ("deb" or "rpm") for in into dir and
// returns its path.
func Build(in Input, format, dir string) (string, error) {
	p, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	// ConventionalFileName and Package rewrite parts of the Info (the rpm
	// arch name): each gets its own.
	info, err := Describe(in)
	if err != nil {
		return "", err
	}
	name := p.ConventionalFileName(info)
	if info, err = Describe(in); err != nil {
		return "", err
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	var b bytes.Buffer
	if err := p.Package(info, &b); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	out := filepath.Join(dir, name)
	return out, os.WriteFile(out, b.Bytes(), 0o644)
}

func file(src, dst string, mode os.FileMode) *files.Content {
	return &files.Content{Source: src, Destination: dst,
		FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode}}
}

func onlyFor(packager string, c *files.Content) *files.Content {
	c.Packager = packager
	return c
}

// gzipMan writes each page of dir gzipped (-9, no name or time in the
// header, so the same pages make the same bytes) into stage.
func gzipMan(dir, stage string) ([]string, error) {
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil || len(pages) == 0 {
		return nil, fmt.Errorf("no man pages in %s (%v)", dir, err)
	}
	sort.Strings(pages)
	var out []string
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(b)
		if err := w.Close(); err != nil {
			return nil, err
		}
		dst := filepath.Join(stage, filepath.Base(p)+".gz")
		if err := os.WriteFile(dst, z.Bytes(), 0o644); err != nil {
			return nil, err
		}
		out = append(out, dst)
	}
	return out, nil
}

var (
	semverRe = regexp.MustCompile(`^v?([0-9]+\.[0-9]+\.[0-9]+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)
	unsafeRe = regexp.MustCompile(`[^A-Za-z0-9.]+`)
)

// PackageVersion splits the version the binary was stamped with into the
// packages' version and pre-release: v1.2.3-rc1 is 1.2.3 and rc1, which
// both formats write 1.2.3~rc1 (sorting before 1.2.3); a git describe past
// a tag (v1.2.3-4-gabc) is 1.2.3~4.gabc. An untagged tree (a bare commit
// hash, maybe -dirty) is 0~git<hash>, older than any release. Only
// letters, digits and dots survive in the pre-release: '-' would start a
// Debian revision and is not allowed in an RPM version.
func PackageVersion(v string) (version, prerelease string) {
	if m := semverRe.FindStringSubmatch(v); m != nil {
		return m[1], strings.Trim(unsafeRe.ReplaceAllString(m[2], "."), ".")
	}
	return "0", "git" + strings.Trim(unsafeRe.ReplaceAllString(v, "."), ".")
}
