#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: the proxy
# as the worker runs it (one thread, one single-threaded runtime) against nginx
# (one worker process, the same keep-alive reverse-proxy config as proxy.sh).
# Counts do not depend on what else the machine is doing, so this is the
# figure to compare builds by; proxy.sh gives the timings.
#
#   bash tests/benches/instructions.sh [--short-ms 5000] [--long-ms 15000]
#       [--only switchyard|hyper|nginx] [--path /v1/messages[?events=100]]
#
# --path: what the load asks for (default /json, which no usage scanner reads);
# /v1/messages answers a small Anthropic JSON body with usage, and
# /v1/messages?events=N an Anthropic event stream of N events (1 ms apart), so
# the per-event cost is (SSE per request - JSON per request) / N.
# PROXY_BENCH=path measures a proxy_bench built elsewhere (a "before" build).
#
# Each side runs twice under callgrind, short and long, at concurrency 1; the
# difference in instructions over the difference in requests cancels start-up
# and shutdown. Only the proxy's own thread (or process) is counted: not the
# load generator, not the mock upstream. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

SHORT=5000 LONG=15000 ONLY= LOAD_PATH=/json
while [ $# -gt 0 ]; do
  case $1 in
    --short-ms) SHORT=$2; shift 2 ;;
    --long-ms) LONG=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --path) LOAD_PATH=$2; shift 2 ;;
    *) echo "usage: $0 [--short-ms N] [--long-ms N] [--only switchyard|hyper|nginx] [--path P]" >&2; exit 2 ;;
  esac
done
[ "$LONG" -gt "$SHORT" ] || { echo "--long-ms must exceed --short-ms" >&2; exit 2; }

need=()
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -n "${PROXY_BENCH:-}" ]; then
  BENCH=$PROXY_BENCH
else
  cargo build --release --quiet -p switchyard-daemon --example proxy_bench
  BENCH=$PWD/target/release/examples/proxy_bench
fi
WORK=$(mktemp -d /tmp/syinstr.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
source tests/benches/nginx.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# requests TABLE NAME: the request count of NAME's row in a proxy_bench table.
requests() { awk -F'|' -v name="$2" '$2 ~ name { gsub(/ /, "", $4); print $4; exit }' "$1"; }
# summary FILE: the instruction total callgrind wrote to FILE.
summary() { awk '/^summary:/ { print $2; exit }' "$1"; }

# An in-process proxy of proxy_bench: each runs on its own thread with a
# single-threaded runtime, as in the worker. Threads get separate files; the
# proxy's is the one that ran its code.
# thread_run MS TARGET CODE: TARGET names the table row, CODE a function of it.
thread_run() {
  local ms=$1 out=$WORK/thread.$1.${3//[^a-z_]/}
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" \
    "$BENCH" --upstream-port 0 --only "$2" --concurrency 1 --no-sse \
    --duration-ms "$ms" --path "$LOAD_PATH" >"$out.table" 2>"$out.log"
  local file
  file=$(grep -l "$3" "$out"-* | head -1)
  echo "$(summary "$file") $(requests "$out.table" "$2")"
}

# nginx: one worker process, no master, under callgrind; proxy_bench is its
# load generator and mock upstream.
nginx_run() {
  local ms=$1 dir=$WORK/nginx.$1 upstream port
  upstream=$(free_port); port=$(free_port)
  nginx_conf "$dir" "$upstream" "$port" "worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;"
  valgrind --tool=callgrind --callgrind-out-file="$dir/out" \
    "$NGINX" -p "$dir" -c nginx.conf 2>"$dir/valgrind.log" &
  local pid=$!
  # nginx under valgrind takes a few seconds to listen.
  local deadline=$((SECONDS + 60))
  until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "nginx did not start: $dir/valgrind.log" >&2; kill "$pid"; exit 1; }
    sleep 0.2
  done
  "$BENCH" --upstream-port "$upstream" --nginx-port "$port" --only nginx \
    --concurrency 1 --no-sse --duration-ms "$ms" --path "$LOAD_PATH" >"$dir/table"
  # TERM, not QUIT: a background job of a script starts with QUIT ignored.
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$(summary "$dir/out") $(requests "$dir/table" 'nginx')"
}

per_request() {
  read -r short_i short_n <<<"$1"
  read -r long_i long_n <<<"$2"
  python3 -c "print(f'{($long_i - $short_i) / ($long_n - $short_n):,.0f} | {$long_n - $short_n}')"
}

echo "## User-space instructions per proxied request (callgrind)"
echo
echo "Concurrency 1, GET $LOAD_PATH over keep-alive HTTP/1.1, runs of $SHORT and $LONG ms; the proxy's own thread or process only."
echo
echo "| proxy | instructions per request | requests counted |"
echo "|---|---:|---:|"
if [ -z "$ONLY" ] || [ "$ONLY" = switchyard ]; then
  run() { thread_run "$1" "switchyard in-process" "proxy::forward"; }
  echo "| switchyard proxy thread | $(per_request "$(run "$SHORT")" "$(run "$LONG")") |"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = hyper ]; then
  run() { thread_run "$1" "bare hyper in-process" "bare_proxy::connection"; }
  echo "| bare hyper proxy thread (the floor: no pool, checks, timeouts or failover) | $(per_request "$(run "$SHORT")" "$(run "$LONG")") |"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = nginx ]; then
  echo "| nginx worker process | $(per_request "$(nginx_run "$SHORT")" "$(nginx_run "$LONG")") |"
fi
