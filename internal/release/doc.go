// Package release holds what turns pfwdctl into release files, and the tests
// that install them: deb.sh assembles the .deb with dpkg-deb --build
// (`make dist` calls it for each architecture). Nothing here is linked into
// pfwdctl; it sits under internal/ rather than a new top-level folder so the
// packaging script and the test that proves it live side by side and run
// with `go test ./...` like everything else.
//
// The package must never change the host when installed: it ships no
// maintainer scripts at all (no postinst), so installing it cannot touch
// sshd, its configuration or any account. Configuring is `pfwdctl apply`'s
// job, run by the admin.
package release
