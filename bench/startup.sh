#!/usr/bin/env bash
# bench/startup.sh: wall time of `pfwdctl --version` (start-up: the Go
# runtime, every linked package's init, cobra) against /bin/true and
# against a hello-world Go binary built in the same run (the fairer floor:
# what any Go program pays), on the same machine in one run.
# Target (issue 15): pfwdctl --version <= 5 ms on 2 cores.
#
#   bench/startup.sh [ROUNDS] [RUNS]   (default 15 rounds of 40 runs each)
#
# PFWDCTL_BASELINE=BINARY also times an older build's --version.
#
# pfwdctl is built here from the working tree (as `make build` does), so a
# stale bin/pfwdctl cannot be measured by mistake. Rounds interleave the
# programs so all see the same load; each figure is the median over
# rounds of the mean per run, which a busy neighbour for one round does not
# move. GODEBUG=inittrace=1 ./pfwdctl --version shows where init time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15} runs=${2:-40}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/pfwdctl" ./cmd/pfwdctl
mkdir "$tmp/hello"
printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hello\\n") }\n' >"$tmp/hello/main.go"
printf 'module hello\n\ngo 1.21\n' >"$tmp/hello/go.mod"
(cd "$tmp/hello" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/hello-go" .)

now() { date +%s%N; }
# batch PROG ARGS...: mean ns per run of RUNS runs.
batch() {
  local t i
  t=$(now)
  for ((i = 0; i < runs; i++)); do "$@" >/dev/null; done
  echo $((($(now) - t) / runs))
}
# Warm the page cache.
batch /bin/true >/dev/null; batch "$tmp/hello-go" >/dev/null; batch "$tmp/pfwdctl" --version >/dev/null
for _ in $(seq "$rounds"); do
  echo "true $(batch /bin/true)"
  echo "hello $(batch "$tmp/hello-go")"
  echo "pfwdctl $(batch "$tmp/pfwdctl" --version)"
  [ -z "${PFWDCTL_BASELINE:-}" ] || echo "baseline $(batch "$PFWDCTL_BASELINE" --version)"
done >"$tmp/times"
median() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/times" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
t_true=$(median true) t_hello=$(median hello) t_pf=$(median pfwdctl)
awk -v t="$t_true" -v h="$t_hello" -v p="$t_pf" -v r="$rounds" -v n="$runs" 'BEGIN {
  printf "rounds:                       %d x %d runs each, median of round means\n", r, n
  printf "/bin/true:                    %6.2f ms\n", t / 1e6
  printf "hello-world Go binary:        %6.2f ms\n", h / 1e6
  printf "pfwdctl --version:            %6.2f ms\n", p / 1e6
  printf "ratio pfwdctl / true:         %6.2f\n", p / t
  printf "ratio pfwdctl / hello-world:  %6.2f\n", p / h
  printf "target: pfwdctl <= 5 ms:      %s\n", (p / 1e6 <= 5 ? "met" : "MISSED")
}'
if [ -n "${PFWDCTL_BASELINE:-}" ]; then
  awk -v b="$(median baseline)" -v h="$t_hello" 'BEGIN { printf "baseline --version:           %6.2f ms (x%.2f hello-world)\n", b / 1e6, b / h }'
fi
