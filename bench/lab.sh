# bench/lab.sh, sourced by the bench scripts: builds bin/pfwdctl (always,
# unless PFWDCTL names a binary: a stale one would measure old code),
# starts `pfwdctl lab --serve` and loads its LAB_* variables; the lab stops
# when the script exits.
bin=${PFWDCTL:-./bin/pfwdctl}
[ -n "${PFWDCTL:-}" ] || make -s build
command -v ssh >/dev/null || { echo "bench: ssh not found: apt-get install openssh-client" >&2; exit 3; }
info=$(mktemp)
# LAB_ARGS adds lab flags (bench/self.sh: --self-root DIR).
# shellcheck disable=SC2086
"$bin" lab --serve ${LAB_ARGS:-} >"$info" 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null; rm -f "$info"' EXIT
for _ in $(seq 500); do grep -q '^# ready' "$info" && break; kill -0 $lab 2>/dev/null || { cat "$info" >&2; exit 3; }; sleep 0.01; done
grep -q '^# ready' "$info" || { echo "bench: the lab did not start" >&2; cat "$info" >&2; exit 3; }
# shellcheck disable=SC1090
. "$info"

# interleave REF CAND runs both once (page cache, sshd's first fork), then
# $rounds times in turn on the same lab, so a change of load hits both
# alike; it sets ref_ns and cand_ns (totals) and ratio (CAND / REF).
now() { date +%s%N; }
interleave() {
  "$1"; "$2"
  ref_ns=0 cand_ns=0
  for _ in $(seq "$rounds"); do
    t0=$(now); "$1"; t1=$(now); "$2"; t2=$(now)
    ref_ns=$((ref_ns + t1 - t0)); cand_ns=$((cand_ns + t2 - t1))
  done
  ratio=$(awk -v a="$cand_ns" -v b="$ref_ns" 'BEGIN { printf "%.2f", a / b }')
}
# ms NS is a per-round mean in milliseconds.
ms() { awk -v ns="$1" -v n="$rounds" 'BEGIN { printf "%.1f", ns / n / 1e6 }'; }
