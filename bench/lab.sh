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
