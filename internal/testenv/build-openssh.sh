#!/usr/bin/env bash
# build-openssh.sh builds the OpenSSH releases in ../shared/openssh (the
# ones admins run, see its README.md) into a cache, once: a release whose
# sbin/sshd is already there is skipped, so CI pays for the builds only on
# its first run. make test-compat calls it, then runs the compatibility
# tests against every release it finds there (testenv.Releases).
#
# Usage: build-openssh.sh SRCDIR CACHEDIR [VERSION...]
# Nothing is installed outside CACHEDIR: prefix, sysconfdir and the keys
# all live there (install-nokeys: the tests make their own host keys).
set -euo pipefail
src=${1:-} cache=${2:?usage: build-openssh.sh SRCDIR CACHEDIR [VERSION...]}; shift 2
if [ -z "$src" ] || [ ! -f "$src/SHA256SUMS" ]; then
  echo "build-openssh: no OpenSSH sources (openssh-*.tar.gz and SHA256SUMS) in '${src:-../shared/openssh}'; pass OPENSSH_SRC=DIR to make test-compat" >&2
  exit 1
fi
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
[ $# -gt 0 ] || set -- $(cd "$src" && ls openssh-*.tar.gz | sed 's/^openssh-//; s/\.tar\.gz$//')
# sshd refuses to start without its privilege separation directory.
[ "$(id -u)" != 0 ] || install -d -m 0755 /run/sshd
for v in "$@"; do
  dest=$cache/$v
  if [ -f "$dest/.complete" ]; then echo "openssh $v: cached in $dest"; continue; fi
  tgz=$src/openssh-$v.tar.gz
  # Built and installed as root: only a source whose checksum is listed.
  (cd "$src" && grep " openssh-$v.tar.gz\$" SHA256SUMS | sha256sum -c --quiet -) ||
    { echo "openssh $v: $tgz is not in $src/SHA256SUMS or does not match it" >&2; exit 1; }
  rm -rf "$dest"
  work=$(mktemp -d); log=$work/build.log
  echo "openssh $v: building into $dest (log: $log)"
  start=$(date +%s)
  extra=()
  # 8.0's seccomp sandbox kills the pre-auth child on this glibc
  # (clock_nanosleep is not on its list): see ../shared/openssh/README.md.
  case $v in 8.0*) extra+=(--with-sandbox=rlimit);; esac
  if ! ( cd "$work" && tar -xzf "$tgz" && cd "openssh-$v" &&
         { [ -x configure ] || autoreconf; } &&
         ./configure --prefix="$dest" --sysconfdir="$dest/etc" --with-privsep-path=/run/sshd \
           --without-pam --without-selinux --without-kerberos5 "${extra[@]}" &&
         make -j"$(nproc)" && make install-nokeys ) >"$log" 2>&1; then
    tail -30 "$log" >&2; echo "openssh $v: build failed" >&2; exit 1
  fi
  # The prefix is compiled in (9.8+ sshd execs PREFIX/libexec/sshd-session),
  # so the build installs in place; .complete marks a finished install.
  touch "$dest/.complete"
  rm -rf "$work"
  echo "openssh $v: built in $(( $(date +%s) - start ))s"
done
