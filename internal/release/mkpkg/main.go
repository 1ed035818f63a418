// Command mkpkg builds pfwdctl's .deb and .rpm for each architecture from
// release.Describe, the one description of their contents. `make dist`
// runs it after building the stamped binaries and the completions:
//
//	go run ./internal/release/mkpkg -dist dist -version v1.2.3 amd64 arm64
//
// It prints the path of each package it wrote.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pfwdctl/pfwdctl/internal/release"
)

func main() {
	dist := flag.String("dist", "dist", "the `dir` holding pfwdctl_linux_ARCH and completions/, and where the packages go")
	version := flag.String("version", "", "the `version` the binaries were stamped with")
	repo := flag.String("repo", ".", "the checkout (docs/, README.md, internal/release/)")
	flag.Parse()
	if *version == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkpkg [-dist DIR] [-repo DIR] -version VERSION ARCH...")
		os.Exit(2)
	}
	if err := run(*dist, *repo, *version, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
}

func run(dist, repo, version string, arches []string) error {
	stage, err := os.MkdirTemp("", "pfwdctl-mkpkg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	for _, arch := range arches {
		in := release.Input{
			Repo:          repo,
			Binary:        filepath.Join(dist, "pfwdctl_linux_"+arch),
			Arch:          arch,
			Version:       version,
			CompletionDir: filepath.Join(dist, "completions"),
			Stage:         stage,
		}
		for _, format := range release.Formats {
			p, err := release.Build(in, format, dist)
			if err != nil {
				return fmt.Errorf("%s %s: %w", arch, format, err)
			}
			fmt.Println(p)
		}
	}
	return nil
}
