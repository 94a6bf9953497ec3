#!/usr/bin/env bash
# Proxy benchmark, one run, one table: direct to a local mock upstream, through
# the proxy in-process, through a real Switchyard worker (daemon + worker
# process), and through nginx (Debian's, installed here if missing) configured
# as a keep-alive reverse proxy to the same upstream. Then RSS per open stream
# with 1,000 streams held through the worker. Everything stays on 127.0.0.1.
#
#   bash tests/benches/proxy.sh [--duration-ms 3000] [--only worker,nginx]
#       [--concurrency 1,64] [--no-sse] [--hold 0] [--rounds 5]
#       [--placement same-core|across-cores]
#   SWITCHYARD_BIN=path measures another build; SWITCHYARD_BIN_B=path adds it
#   beside this one as "worker B".
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# SWITCHYARD_BIN measures another build (say, one with frame pointers for perf).
BIN=${SWITCHYARD_BIN:-$PWD/target/release/switchyard}
[ -n "${SWITCHYARD_BIN:-}" ] || cargo build --release --quiet --bin switchyard
cargo build --release --quiet -p switchyard-daemon --example proxy_bench
BENCH=$PWD/target/release/examples/proxy_bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UPSTREAM=$(free_port); NGINX_PORT=$(free_port); WORKER_PORT=$(free_port)

WORK=$(mktemp -d /tmp/sybench.XXXXXX)
export SWITCHYARD_HOME=$WORK/home
cleanup() {
  "$NGINX" -p "$WORK/nginx" -c nginx.conf -s stop 2>/dev/null || true
  "$BIN" daemon stop >/dev/null 2>&1 || true
  [ -z "${SWITCHYARD_BIN_B:-}" ] || SWITCHYARD_HOME=$WORK/home-b "$SWITCHYARD_BIN_B" daemon stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

source tests/benches/nginx.sh
nginx_conf "$WORK/nginx" "$UPSTREAM" "$NGINX_PORT" "worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;"
"$NGINX" -p "$WORK/nginx" -c nginx.conf
NGINX_WORKERS=$(pgrep -d, -P "$(cat "$WORK/nginx/nginx.pid")")

ulimit -n 8192 2>/dev/null || true
# start_worker BIN HOME PORT: a daemon in HOME serving claude on PORT, routed to
# the mock upstream; prints the worker's pid.
start_worker() {
  SWITCHYARD_HOME=$2 "$1" daemon start >/dev/null
  SWITCHYARD_HOME=$2 "$1" port claude "$3" >/dev/null
  SWITCHYARD_HOME=$2 "$1" provider add claude bench --base-url "http://127.0.0.1:$UPSTREAM" --priority -10 >/dev/null
  SWITCHYARD_HOME=$2 "$1" enable claude >/dev/null
  SWITCHYARD_HOME=$2 "$1" status --json | python3 -c 'import json,sys; print([a for a in json.load(sys.stdin)["apps"] if a["app"]=="claude"][0]["pid"])'
}
WORKER_PID=$(start_worker "$BIN" "$SWITCHYARD_HOME" "$WORKER_PORT")

# SWITCHYARD_BIN_B adds a second daemon and worker from another build, measured
# in the same run as "worker B" (A/B comparisons on a noisy machine).
EXTRA=()
if [ -n "${SWITCHYARD_BIN_B:-}" ]; then
  B_PORT=$(free_port)
  B_PID=$(start_worker "$SWITCHYARD_BIN_B" "$WORK/home-b" "$B_PORT")
  EXTRA=(--target "worker B=$B_PORT@$B_PID")
fi

"$BENCH" --upstream-port "$UPSTREAM" --nginx-port "$NGINX_PORT" --worker-port "$WORKER_PORT" \
  --hold 1000 --worker-pid "$WORKER_PID" --nginx-pids "$NGINX_WORKERS" "${EXTRA[@]}" "$@"
