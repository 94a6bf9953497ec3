#!/usr/bin/env bash
# Dashboard figures in a real terminal (tmux): attach to first full frame,
# key press to updated screen, RSS, and CPU over 10 idle seconds.
#
#   bash tests/benches/dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
cargo build --release --quiet --bin switchyard
BIN=$PWD/target/release/switchyard
WORK=$(mktemp -d /tmp/sydash.XXXXXX)
export SWITCHYARD_HOME=$WORK/home
SOCK=sydash$$
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; "$BIN" daemon stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$BIN" daemon start >/dev/null
"$BIN" port claude "$(free_port)" >/dev/null
"$BIN" port codex "$(free_port)" >/dev/null
"$BIN" enable claude >/dev/null

now_ms() { date +%s%3N; }
screen() { tmux -L "$SOCK" capture-pane -p -t d 2>/dev/null || true; }
wait_screen() { # pattern, timeout ms → prints elapsed ms since $2
  local pattern=$1 start=$2 deadline=$(( $(now_ms) + 10000 ))
  while ! screen | grep -q -- "$pattern"; do
    [ "$(now_ms)" -lt "$deadline" ] || { echo "timeout waiting for $pattern" >&2; exit 1; }
    sleep 0.002
  done
  echo $(( $(now_ms) - start ))
}

attach=()
for i in 1 2 3 4 5; do
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  t0=$(now_ms)
  tmux -L "$SOCK" new-session -d -s d -x 120 -y 40 "env SWITCHYARD_HOME=$SWITCHYARD_HOME $BIN"
  attach+=("$(wait_screen 'gemini' "$t0")")
done

keys=()
for i in 1 2 3 4 5 6; do
  # Move the selection down to codex and toggle it; wait for the row to change.
  tmux -L "$SOCK" send-keys -t d j
  if screen | grep -q 'running  codex'; then want='off  *codex'; else want='running  codex'; fi
  t0=$(now_ms)
  tmux -L "$SOCK" send-keys -t d Space
  keys+=("$(wait_screen "$want" "$t0")")
  tmux -L "$SOCK" send-keys -t d k
done

PANE_PID=$(tmux -L "$SOCK" display -p -t d '#{pane_pid}')
DASH_PID=$(pgrep -P "$PANE_PID" -f switchyard || echo "$PANE_PID")
rss=$(awk '/VmRSS/ {print $2}' /proc/"$DASH_PID"/status)
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
c0=$(ticks "$DASH_PID"); sleep 10; c1=$(ticks "$DASH_PID")

sorted() { printf '%s\n' "$@" | sort -n | tr '\n' ' '; }
echo
echo "| figure | value |"
echo "|---|---|"
echo "| attach to first full frame (5 runs, ms) | $(sorted "${attach[@]}")|"
echo "| key press (Space) to updated screen, incl. the worker start/stop (6 runs, ms) | $(sorted "${keys[@]}")|"
echo "| dashboard RSS | ${rss} KiB |"
echo "| dashboard CPU over 10 s idle | $(( (c1 - c0) * 10 )) ms |"
