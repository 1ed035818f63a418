#!/usr/bin/env bash
# bench/fleet-netem.sh: pfwdctl verify --inventory against fleets of 1, 20
# and 200 lab sshds that sit behind a real round-trip time, so the figure
# measures how well the fleet runner hides latency, not how fast 2 cores
# run 200 sshds. Prints wall time, max RSS (/usr/bin/time) and the ratios.
# Targets (issue 15): 20 hosts <= 1.5x one host, 200 hosts <= 3x.
#
#   sudo bench/fleet-netem.sh [ROUNDS]   (default 3; root: network namespaces)
#
# FLEET_SIZES ("1 20 200"), FLEET_RTT (50ms), FLEET_PARALLEL (verify's
# --parallel; default: pfwdctl's own default) and FLEET_TIMEOUT (verify's
# --timeout per host, 60s: the labs share this machine's CPU, and a host
# that times out would hide how long the fleet really takes) change the
# run. A run where some host does not pass is still timed; its row says so.
#
# Everything runs in two network namespaces made for this run (unique
# names, removed on exit, also on Ctrl-C): the labs in one, pfwdctl verify
# in the other, joined by a veth pair whose client end has
# `tc qdisc ... netem delay $FLEET_RTT` (a 50 ms round trip). Where the
# kernel has no sch_netem (tc: "Specified qdisc kind is unknown", e.g. a
# Firecracker VM without modules), the round trip is added in user space
# instead: bench/fleetlab puts each host behind a relay that delays every
# chunk (and the connection's start), and client and labs share the labs'
# namespace. Either way nothing touches the host's own network.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
sizes=${FLEET_SIZES:-"1 20 200"}
rtt=${FLEET_RTT:-50ms}
[ "$(id -u)" -eq 0 ] || { echo "bench: fleet-netem.sh needs root (ip netns)" >&2; exit 3; }
command -v ip >/dev/null && command -v tc >/dev/null || apt-get install -y -qq iproute2 >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

tmp=$(mktemp -d)
id=$(($$ % 100000))$((RANDOM % 100))
srv=pfwdctl-bench-srv-$id cli=pfwdctl-bench-cli-$id veth=pfb$id
lab=
cleanup() {
  if [ -n "$lab" ]; then kill "$lab" 2>/dev/null || true; wait "$lab" 2>/dev/null || true; fi
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/pfwdctl" ./cmd/pfwdctl
go build -o "$tmp/fleetlab" ./bench/fleetlab
max=0
for n in $sizes; do [ "$n" -gt "$max" ] && max=$n; done

ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link set lo up
ip -n "$cli" link set lo up
ip link add "${veth}s" netns "$srv" type veth peer name "${veth}c" netns "$cli"
ip -n "$srv" addr add 10.77.0.1/24 dev "${veth}s"
ip -n "$cli" addr add 10.77.0.2/24 dev "${veth}c"
ip -n "$srv" link set "${veth}s" up
ip -n "$cli" link set "${veth}c" up
if ip netns exec "$cli" tc qdisc add dev "${veth}c" root netem delay "$rtt" limit 100000 2>"$tmp/tc.err"; then
  mode="netem delay $rtt on the client's link"
  labargs=(-listen 10.77.0.1)
  client=(ip netns exec "$cli")
else
  mode="user-space relay adding $rtt per round trip (no netem: $(tr -d '\n' <"$tmp/tc.err"))"
  labargs=(-rtt "$rtt")
  client=(ip netns exec "$srv")
fi

ip netns exec "$srv" "$tmp/fleetlab" -n "$max" "${labargs[@]}" -inventory "$tmp/inventory" >"$tmp/lab.out" 2>&1 &
lab=$!
for _ in $(seq 1200); do grep -qs '^ready' "$tmp/lab.out" && break; kill -0 "$lab" 2>/dev/null || break; sleep 0.1; done
grep -q '^ready' "$tmp/lab.out" || { echo "bench: the labs did not start" >&2; cat "$tmp/lab.out" >&2; exit 3; }
target=$(sed -n 's/^target=//p' "$tmp/lab.out")
for n in $sizes; do head -n "$n" "$tmp/inventory" >"$tmp/inv.$n"; done

par=()
[ -n "${FLEET_PARALLEL:-}" ] && par=(--parallel "$FLEET_PARALLEL")
now() { date +%s%N; }
# sshd_ticks: CPU clock ticks the labs' sshds (and their per-connection
# children, once reaped) have used so far: what the servers cost, which on
# one machine comes out of the same cores as pfwdctl's.
sshd_ticks() {
  local p
  for p in $(pgrep -P "$lab"); do cat "/proc/$p/stat" 2>/dev/null; done |
    awk '{ s += $14 + $15 + $16 + $17 } END { print s + 0 }'
}
hz=$(getconf CLK_TCK)
verify() { # N: one run over the first N hosts; appends "N WALL_NS MAXRSS_KB CLIENT_CPU_S SSHD_CPU_S"
  local t0 t1 s0 s1
  s0=$(sshd_ticks)
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$tmp/rss" "${client[@]}" "$tmp/pfwdctl" verify --inventory "$tmp/inv.$1" \
    --target "$target" --timeout "${FLEET_TIMEOUT:-60s}" "${par[@]}" >"$tmp/out" 2>&1 || true
  t1=$(now)
  sleep 0.2 # let the last connections' sshd children be reaped
  s1=$(sshd_ticks)
  echo "$1 $((t1 - t0)) $(grep -E '^[0-9]+ ' "$tmp/rss" | tail -n 1 | awk '{ print $1, $2 + $3 }') $(awk -v d=$((s1 - s0)) -v hz="$hz" 'BEGIN { print d / hz }')" >>"$tmp/times"
  # The summary line: "N hosts: P passed, F failed, U unreachable (T)".
  grep -E '^[0-9]+ hosts?:' "$tmp/out" | tail -n 1 | grep -q " $1 passed" ||
    echo "$1 hosts: $(grep -E '^[0-9]+ hosts?:' "$tmp/out" | tail -n 1)" >>"$tmp/failures"
}
verify 1 # warm up
: >"$tmp/times"
: >"$tmp/failures"
for _ in $(seq "$rounds"); do
  for n in $sizes; do verify "$n"; done
done
median() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$tmp/times" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
one=$(median 1 2)
echo "mode:     $mode"
echo "rounds:   $rounds, verify --parallel ${FLEET_PARALLEL:-default}, medians"
for n in $sizes; do
  awk -v n="$n" -v t="$(median "$n" 2)" -v r="$(median "$n" 3)" -v c="$(median "$n" 4)" -v s="$(median "$n" 5)" -v one="$one" 'BEGIN {
    tgt = (n >= 200 ? 3 : (n >= 20 ? 1.5 : 0))
    printf "%4d hosts: %8.0f ms  max RSS %6.1f MB  CPU pfwdctl %5.2f s, sshds %6.2f s  x%5.2f one host", n, t / 1e6, r / 1024, c, s, t / one
    if (tgt > 0) printf "  (target <= %.1fx: %s)", tgt, (t / one <= tgt ? "met" : "MISSED")
    printf "\n" }'
done
if [ -s "$tmp/failures" ]; then
  echo "runs where not every host passed (timed all the same):"
  sed 's/^/  /' "$tmp/failures"
fi
