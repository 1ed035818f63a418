// Package release turns pfwdctl into release files and tests them:
// Describe is the one description of the .deb and the .rpm (the same
// files, built with nfpm as a library, so neither dpkg-deb nor rpmbuild is
// needed), mkpkg is the command `make dist` runs to write them, systemd/
// and cron/ hold the prune timer and the cron.d example they ship, and
// TestPackages installs and inspects what was built. Nothing here is
// linked into pfwdctl; it sits under internal/ rather than a new
// top-level folder so no other module can import the packaging code, and
// the description, the files it ships and the test that proves it live
// side by side and run with `go test ./...` like everything else.
//
// The packages must never change the host when installed: they ship no
// maintainer scripts at all (no postinst, no %post) and nothing under /etc,
// so installing cannot touch sshd, its configuration, any account or cron,
// and the timer stays disabled until the admin enables it. Configuring is
// `pfwdctl apply`'s job, run by the admin.
package release
