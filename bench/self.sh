#!/usr/bin/env bash
# bench/self.sh: wall time of `pfwdctl verify --self` (the complete local
# proof: a throwaway key installed and removed, every listening TCP and Unix
# socket of this host tried, the nine checks) against one OpenSSH login to
# the nologin account (`ssh USER@HOST`, the reference), against the same lab
# sshd in one run, rounds interleaved so both see the same machine load.
# Target (issue 13): ratio self/login <= 1. BENCH_SSH_OPTS adds ssh client
# options, as in bench/verify.sh.
#
#   sudo bench/self.sh [ROUNDS]   (default 10; root: --self installs a key
#                                  for the lab account, as on a server)
#
# The lab serves the account's keys from a host tree (pfwdctl lab --serve
# --self-root DIR), and verify --self runs with --root DIR against it: the
# tree holds the account, the host key and the drop-ins; /proc/net, which
# --self enumerates, is this host's own.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (verify --self installs a key)" >&2; exit 2; }
tree=$(mktemp -d)
chmod 755 "$tree"
LAB_ARGS="--self-root $tree"
# shellcheck source=bench/lab.sh
. bench/lab.sh
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null; rm -rf "$info" "$tree"' EXIT

login() {
  local out
  # shellcheck disable=SC2086
  out=$(ssh -F /dev/null ${BENCH_SSH_OPTS:-} -p "$LAB_PORT" -i "$LAB_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o StrictHostKeyChecking=yes "$LAB_USER@$LAB_HOST" </dev/null 2>&1) || true
  case $out in *"not available"*) ;; *) echo "bench: the login did not reach nologin: $out" >&2; return 1 ;; esac
}
self() {
  "$bin" --root "$tree" verify --self --user "$LAB_USER" --port "$LAB_PORT" --json >"$tree/self.json" ||
    { echo "bench: verify --self failed:" >&2; cat "$tree/self.json" >&2; return 1; }
}

interleave login self
dests=$(jq -r '.checks[] | select(.name == "other-ports-prohibited") | (.tried // [] | length)' "$tree/self.json" 2>/dev/null || echo "?")
ssh_ns=$ref_ns self_ns=$cand_ns
echo "rounds:                      $rounds (same lab sshd, $LAB_USER@$LAB_HOST:$LAB_PORT)"
echo "one OpenSSH login:           $(ms $ssh_ns) ms"
echo "pfwdctl verify --self:       $(ms $self_ns) ms (key added and removed, $dests local destinations, 9 checks)"
echo "ratio self/login:            $ratio (target <= 1.00)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.00) }' || { echo "bench: above target" >&2; exit 1; }
