#!/usr/bin/env bash
# bench/sessions-history.sh: how long reading sshd's history takes, and
# whether it streams. bench/genauthlog writes a realistic 1,000,000-line
# auth.log (interleaved tunnels with fingerprints and child pids, refused
# forwards, brute-force noise, other programs' lines); bench/sessionscan
# reads it as `pfwdctl sessions --history --log FILE` does (FileSource,
# Scanner, Joiner with per-key sums) under /usr/bin/time -v, on 2 cores.
# It is then run on a tenth of the lines: the peak RSS must not grow
# with the file. Also the gzip-compressed file (rotated auth.log.N.gz).
# Target (issue 16): under 2 s on 2 cores for 1,000,000 lines.
#
#   bench/sessions-history.sh [LINES]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/genauthlog" ./bench/genauthlog
go build -trimpath -o "$tmp/sessionscan" ./bench/sessionscan
"$tmp/genauthlog" -lines "$lines" >"$tmp/auth.log"
"$tmp/genauthlog" -lines $((lines / 10)) >"$tmp/auth-small.log"
gzip -c "$tmp/auth.log" >"$tmp/auth.log.2.gz"
cat "$tmp/auth.log" >/dev/null # warm the page cache
run() {
  local out
  out=$(GOMAXPROCS=2 /usr/bin/time -v "$tmp/sessionscan" "$1" 2>&1)
  echo "$out" | grep '^format'
  printf '  %s lines, %s MB on disk: wall %s s, max RSS %s KiB\n' "$(zcat -f "$1" | wc -l)" "$(($(stat -c %s "$1") / 1000000))" \
    "$(echo "$out" | awk -F': ' '/Elapsed/ {print $2}')" "$(echo "$out" | awk -F': ' '/Maximum resident/ {print $2}')"
}
echo "== auth.log"
run "$tmp/auth.log"
echo "== a tenth of it (RSS must stay about the same)"
run "$tmp/auth-small.log"
echo "== auth.log.2.gz"
run "$tmp/auth.log.2.gz"
