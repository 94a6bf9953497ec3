#!/usr/bin/env bash
# Instructions the usage scanner adds per response and per frame, counted by
# callgrind (user space, deterministic: compare builds by these figures).
#
#   bash tests/benches/usage.sh [--short N] [--long N]
#
# For each case of daemon/examples/usage_bench.rs (a plain JSON response, and
# SSE streams of 100 text events plus the ones carrying usage, in each
# vendor's shape), the example runs the scanner N times; the difference
# between a short and a long run, over the difference in runs, cancels start-up.
# The same walk over the frames without a scanner is subtracted.
set -euo pipefail
cd "$(dirname "$0")/../.."

SHORT=200 LONG=1200
while [ $# -gt 0 ]; do
  case $1 in
    --short) SHORT=$2; shift 2 ;;
    --long) LONG=$2; shift 2 ;;
    *) echo "usage: $0 [--short N] [--long N]" >&2; exit 2 ;;
  esac
done
[ "$LONG" -gt "$SHORT" ] || { echo "--long must exceed --short" >&2; exit 2; }
command -v valgrind >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}

cargo build --release --quiet -p switchyard-daemon --example usage_bench
BENCH=$PWD/target/release/examples/usage_bench
WORK=$(mktemp -d /tmp/syusage.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# count CASE N: total instructions of one run.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BENCH" "$1" "$2" \
    >/dev/null 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  awk '/^summary:/ { print $2; exit }' "$WORK/out"
}
# per_run CASE: instructions per run of CASE.
per_run() {
  local short long
  short=$(count "$1" "$SHORT"); long=$(count "$1" "$LONG")
  echo $(( (long - short) / (LONG - SHORT) ))
}

printf '%-16s %7s %8s %12s %10s %9s\n' case frames bytes "instr/resp" "instr/frame" "instr/KiB"
"$BENCH" --list | while read -r name frames bytes; do
  scanned=$(per_run "$name"); base=$(per_run "$name-baseline")
  added=$(( scanned - base ))
  printf '%-16s %7d %8d %12d %10d %9d\n' "$name" "$frames" "$bytes" "$added" \
    $(( added / frames )) $(( added * 1024 / bytes ))
done
