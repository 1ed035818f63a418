#!/bin/sh
# deb.sh BINARY ARCH VERSION MANDIR COMPLETIONDIR OUTDIR
# Assembles pfwdctl_VERSION_ARCH.deb in OUTDIR with dpkg-deb --build: the
# binary, gzipped man pages, and bash/zsh/fish completions. No maintainer
# scripts: installing must not change sshd or any account (see doc.go).
set -eu
[ $# -eq 6 ] || { echo "usage: $0 BINARY ARCH VERSION MANDIR COMPLETIONDIR OUTDIR" >&2; exit 2; }
bin=$1 arch=$2 version=$3 mandir=$4 compdir=$5 out=$6

# A Debian version must start with a digit; a git describe of an untagged
# tree (a commit hash) becomes 0~githash, and '-' (which would start a Debian
# revision) becomes '+'.
v=${version#v}
case $v in [0-9]*.*) ;; *) v="0~git$v" ;; esac
v=$(printf '%s' "$v" | tr -- '-' '+' | tr -cd 'A-Za-z0-9.+~')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
install -D -m 0755 "$bin" "$stage/usr/bin/pfwdctl"
install -d "$stage/usr/share/man/man1"
for m in "$mandir"/*.1; do
	# -n: no name or time stamp in the gzip header, so the build is reproducible.
	gzip -9n < "$m" > "$stage/usr/share/man/man1/$(basename "$m").gz"
done
install -D -m 0644 "$compdir/pfwdctl.bash" "$stage/usr/share/bash-completion/completions/pfwdctl"
install -D -m 0644 "$compdir/_pfwdctl" "$stage/usr/share/zsh/vendor-completions/_pfwdctl"
install -D -m 0644 "$compdir/pfwdctl.fish" "$stage/usr/share/fish/vendor_completions.d/pfwdctl.fish"
install -d "$stage/usr/share/doc/pfwdctl"
printf 'pfwdctl\n\nSee https://github.com/pfwdctl/pfwdctl for the source and its licence.\n' > "$stage/usr/share/doc/pfwdctl/copyright"

size=$(du -sk "$stage/usr" | cut -f1)
install -d "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: pfwdctl
Version: $v
Architecture: $arch
Maintainer: pfwdctl maintainers <maintainers@pfwdctl.invalid>
Installed-Size: $size
Recommends: openssh-server
Suggests: openssh-client
Section: admin
Priority: optional
Homepage: https://github.com/pfwdctl/pfwdctl
Description: harden sshd and keep a port-forward-only account, and prove it
 pfwdctl installs two sshd drop-ins, keeps a locked account that can only
 forward to one local service, manages its keys, and verifies the result
 with a real SSH client. Installing this package changes nothing: run
 pfwdctl apply to configure sshd.
CONTROL

mkdir -p "$out"
deb="$out/pfwdctl_${v}_${arch}.deb"
# --root-owner-group: files owned by root in the package whoever builds it.
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
