#!/usr/bin/env bash
# bench/verify.sh: wall time of the seed guide's three checks done with the
# OpenSSH client (one ssh per check, as in step 6) against `pfwdctl verify`
# (all nine checks), against the same lab sshd in one run, and the ratio.
# Target: ratio <= 0.4.
#
#   bench/verify.sh [ROUNDS]        (default 20; builds bin/pfwdctl if missing)
#
# Each OpenSSH check is its quickest finite form, which favours OpenSSH:
#   A  ssh USER@HOST </dev/null           nologin answers, the session ends
#   B  ssh -W TARGET USER@HOST </dev/null  the forward opens (stdio -W instead
#                                          of -N -L, which waits forever)
#   C  ssh -W 127.0.0.1:9090 USER@HOST     "administratively prohibited"
# Rounds interleave the two sides so both see the same machine load.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
# shellcheck source=bench/lab.sh
. bench/lab.sh

# BENCH_SSH_OPTS adds client options, e.g. "-o KexAlgorithms=curve25519-sha256"
# to match the key exchange x/crypto picks (OpenSSH 9.x defaults to the
# costlier post-quantum sntrup761x25519).
# shellcheck disable=SC2206
sshc=(ssh -F /dev/null ${BENCH_SSH_OPTS:-} -p "$LAB_PORT" -i "$LAB_KEY" -o IdentitiesOnly=yes -o BatchMode=yes
  -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o StrictHostKeyChecking=yes
  "$LAB_USER@$LAB_HOST")


openssh_checks() {
  local out
  # A: shell access is blocked (nologin's message, non-zero exit).
  out=$("${sshc[@]}" </dev/null 2>&1) && { echo "bench: check A: a shell answered: $out" >&2; return 1; }
  case $out in *"not available"*) ;; *) echo "bench: check A: unexpected: $out" >&2; return 1 ;; esac
  # B: the tunnel to the target opens.
  "${sshc[@]}" -W "$LAB_TARGET" </dev/null >/dev/null 2>&1 || { echo "bench: check B failed" >&2; return 1; }
  # C: any other port is refused.
  out=$("${sshc[@]}" -W 127.0.0.1:9090 </dev/null 2>&1) && { echo "bench: check C: forward opened" >&2; return 1; }
  case $out in *"administratively prohibited"*) ;; *) echo "bench: check C: unexpected: $out" >&2; return 1 ;; esac
}

pfwdctl_checks() {
  "$bin" verify --host "$LAB_HOST" --port "$LAB_PORT" --user "$LAB_USER" --key "$LAB_KEY" \
    --known-hosts "$LAB_KNOWN_HOSTS" --target "$LAB_TARGET" --socket "$LAB_SOCKET" --json >/dev/null
}

interleave openssh_checks pfwdctl_checks
ssh_ns=$ref_ns pf_ns=$cand_ns
echo "rounds:                      $rounds (same lab sshd, $LAB_USER@$LAB_HOST:$LAB_PORT${BENCH_SSH_OPTS:+, ssh $BENCH_SSH_OPTS})"
echo "OpenSSH, 3 checks (3 ssh):   $(ms $ssh_ns) ms per round"
echo "pfwdctl verify, 9 checks:    $(ms $pf_ns) ms per round"
echo "ratio pfwdctl/OpenSSH:       $ratio (target <= 0.40)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.40) }' || { echo "bench: above target" >&2; exit 1; }
