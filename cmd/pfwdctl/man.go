package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra/doc"
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
	return nil
}
