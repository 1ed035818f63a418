#!/usr/bin/env bash
# bench/sweep.sh: wall time of `pfwdctl verify --sweep` (a forward to every
# TCP port 1-65535 of the target host and of its other spelling: 131,069
# channel opens) against one OpenSSH login to the nologin account (the
# reference, `ssh USER@HOST`), against the same lab sshd in one run.
# Target (issue 13): the sweep finishes within 10 s on 2 cores.
#
#   bench/sweep.sh [ROUNDS]   (default 3; builds bin/pfwdctl if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
# shellcheck source=bench/lab.sh
. bench/lab.sh

now() { date +%s%N; }
login() {
  ssh -F /dev/null -p "$LAB_PORT" -i "$LAB_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o StrictHostKeyChecking=yes "$LAB_USER@$LAB_HOST" </dev/null >/dev/null 2>&1 || true
}
sweep() {
  "$bin" verify --host "$LAB_HOST" --port "$LAB_PORT" --user "$LAB_USER" --key "$LAB_KEY" \
    --known-hosts "$LAB_KNOWN_HOSTS" --target "$LAB_TARGET" --socket "$LAB_SOCKET" --sweep --json >/dev/null
}
login
ssh_ns=0 sweep_ns=0
for _ in $(seq "$rounds"); do
  t=$(now); login; ssh_ns=$((ssh_ns + $(now) - t))
  t=$(now); sweep; sweep_ns=$((sweep_ns + $(now) - t))
done
awk -v s="$ssh_ns" -v w="$sweep_ns" -v n="$rounds" 'BEGIN {
  printf "one OpenSSH login:          %8.1f ms\n", s / n / 1e6
  printf "pfwdctl verify --sweep:     %8.1f ms (131,069 forwards)\n", w / n / 1e6
  printf "ratio sweep/login:          %8.1f\n", w / s
  printf "target: sweep <= 10000 ms:  %s\n", (w / n / 1e6 <= 10000 ? "met" : "MISSED")
}'
