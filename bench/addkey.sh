#!/usr/bin/env bash
# bench/addkey.sh: wall time of pfwdctl add-key, list-keys and revoke on an
# authorized_keys of 10,000 keys, as whole processes, against references
# measured in the same run on the same file: `cat` of the file (reading
# it) and `ssh-keygen -lf` of it (fingerprinting every line).
# Target (issue 15): each pfwdctl command <= 30 ms on 2 cores.
#
#   bench/addkey.sh [ROUNDS] [KEYS]   (default 15 rounds, 10000 keys)
#
# Everything happens under a temporary --root (a Debian-like tree with
# pfwdctl's drop-ins), never on the host. pfwdctl is built from the working
# tree. Each pfwdctl command still asks the real sshd (sshd -T -C) which
# files it reads keys from; PFWDCTL_SSHD picks the binary (default: PATH).
# Figures are medians over rounds, the commands interleaved so all see the
# same load.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15} keys=${2:-10000}
tmp=$(mktemp -d)
trap 'if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/pfwdctl" ./cmd/pfwdctl
pf=("$tmp/pfwdctl" --root "$tmp/root")
# PFWDCTL_BASELINE=BINARY also times an older pfwdctl build, interleaved.
base=${PFWDCTL_BASELINE:-}
basepf=("$base" --root "$tmp/root")
sshd=${PFWDCTL_SSHD:-$(command -v sshd || echo /usr/sbin/sshd)}

# The tree: what render/rendertest builds for the tests.
r=$tmp/root
mkdir -p "$r/etc/ssh/sshd_config.d" "$r/home/pfwd/.ssh"
cp render/rendertest/debian12_sshd_config "$r/etc/ssh/sshd_config"
printf '%s\n' 'root:x:0:0:root:/root:/bin/bash' 'pfwd:x:999:999::/home/pfwd:/usr/sbin/nologin' >"$r/etc/passwd"
printf '%s\n' 'root:*:19000:0:99999:7:::' 'pfwd:*:19000:0:99999:7:::' >"$r/etc/shadow"
printf '%s\n' 'root:x:0:' 'pfwd:x:999:' >"$r/etc/group"
"$tmp/pfwdctl" render --out "$r/etc/ssh/sshd_config.d" >/dev/null
# A host key in the tree, as on a real host: without one, sshd -T under
# --root is handed a throwaway key made for each run.
ssh-keygen -q -t ed25519 -N '' -f "$r/etc/ssh/ssh_host_ed25519_key"
chmod 755 "$r/home/pfwd"
chmod 700 "$r/home/pfwd/.ssh"

# KEYS restricted ed25519 lines (random 32-byte keys: a valid blob is all
# an ed25519 public key is), written by a throwaway Go program because
# ssh-keygen would take minutes.
mkdir "$tmp/gen"
cat >"$tmp/gen/main.go" <<'GO'
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	w := bufio.NewWriter(os.Stdout)
	prefix := []byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20")
	for i := 0; i < n; i++ {
		blob := append(append([]byte{}, prefix...), make([]byte, 32)...)
		rand.Read(blob[len(prefix):])
		fmt.Fprintf(w, "restrict,port-forwarding,permitopen=\"127.0.0.1:8009\" ssh-ed25519 %s key%d\n", base64.StdEncoding.EncodeToString(blob), i)
	}
	w.Flush()
}
GO
printf 'module gen\n\ngo 1.21\n' >"$tmp/gen/go.mod"
(cd "$tmp/gen" && go build -o "$tmp/genkeys" .)
ak=$r/home/pfwd/.ssh/authorized_keys
"$tmp/genkeys" "$keys" >"$tmp/keys"
chmod 600 "$tmp/keys"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$tmp/new" >/dev/null
newfp=$(ssh-keygen -lf "$tmp/new.pub" | awk '{ print $2 }')

# timed NAME CMD...: one run of CMD; its wall time and its CPU time (user
# and system, children such as sshd -T included) appended to times, in ms.
# On a shared machine the CPU time is the steadier figure.
timed() {
  local name=$1 out
  shift
  out=$({ TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null; } 2>&1)
  echo "$name $out" >>"$tmp/times"
}
cp "$tmp/keys" "$ak"
# Warm up (page cache, sshd's binary).
"${pf[@]}" add-key "$tmp/new.pub" --sshd "$sshd" --name new >/dev/null
"${pf[@]}" revoke "$newfp" --sshd "$sshd" >/dev/null
for _ in $(seq "$rounds"); do
  cp "$tmp/keys" "$ak"
  timed cat cat "$ak"
  timed keygen ssh-keygen -lf "$ak"
  timed sshdT "$sshd" -T -C user=pfwd,host=127.0.0.1,addr=127.0.0.1,laddr=127.0.0.1,lport=22 -f "$r/etc/ssh/sshd_config"
  timed addkey "${pf[@]}" add-key "$tmp/new.pub" --sshd "$sshd" --name new
  timed listkeys "${pf[@]}" list-keys --sshd "$sshd"
  timed revoke "${pf[@]}" revoke "$newfp" --sshd "$sshd"
  if [ -n "$base" ]; then
    timed base-addkey "${basepf[@]}" add-key "$tmp/new.pub" --sshd "$sshd" --name new
    timed base-listkeys "${basepf[@]}" list-keys --sshd "$sshd"
    timed base-revoke "${basepf[@]}" revoke "$newfp" --sshd "$sshd"
  fi
done
[ "$(wc -l <"$ak")" -eq "$keys" ] || { echo "bench: revoke left $(wc -l <"$ak") lines, want $keys" >&2; exit 1; }
# median NAME: "WALL CPU" in ms, each the median over rounds.
median() {
  local w c
  w=$(awk -v k="$1" '$1 == k { print $2 }' "$tmp/times" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }')
  c=$(awk -v k="$1" '$1 == k { print $3 + $4 }' "$tmp/times" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }')
  echo "$w $c"
}
row() { # LABEL NAME: wall and CPU, ratios to cat and ssh-keygen -lf (wall)
  local m
  m=$(median "$2")
  awk -v l="$1" -v w="${m% *}" -v u="${m#* }" -v c="${cat% *}" -v k="${keygen% *}" -v tgt="${3:-}" 'BEGIN {
    printf "%-28s %7.1f ms wall %7.1f ms CPU  x%5.1f cat  x%5.2f ssh-keygen", l, w, u, w / c, w / k
    if (tgt != "") printf "  (<= 30 ms: %s)", (w <= 30 ? "met" : "MISSED")
    printf "\n" }'
}
cat=$(median cat) keygen=$(median keygen)
echo "rounds: $rounds, $keys keys; medians per process"
row "cat FILE" cat
row "ssh-keygen -lf FILE" keygen
row "sshd -T -C (one per command)" sshdT
row "pfwdctl add-key" addkey t
row "pfwdctl list-keys" listkeys t
row "pfwdctl revoke" revoke t
if [ -n "$base" ]; then
  row "baseline add-key" base-addkey
  row "baseline list-keys" base-listkeys
  row "baseline revoke" base-revoke
fi
