#!/usr/bin/env bash
# Dashboard figures in a real terminal (tmux): attach to first full frame,
# key press to updated screen, RSS, CPU over 10 idle seconds with the log
# pane closed and open (the daemon's too: it streams log lines only while
# a pane is open), and the time from `u` to the usage view drawn over
# 100,000 recorded requests.
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
DAEMON_PID=$("$BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["pid"])')
rss=$(awk '/VmRSS/ {print $2}' /proc/"$DASH_PID"/status)
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
c0=$(ticks "$DASH_PID"); d0=$(ticks "$DAEMON_PID"); sleep 10; c1=$(ticks "$DASH_PID"); d1=$(ticks "$DAEMON_PID")

# The log pane open (when the dashboard has the key `l`), idle again.
tmux -L "$SOCK" send-keys -t d l
if wait_screen 'Logs ·' "$(now_ms)" >/dev/null 2>&1; then
  sleep 1
  l0=$(ticks "$DASH_PID"); m0=$(ticks "$DAEMON_PID"); sleep 10; l1=$(ticks "$DASH_PID"); m1=$(ticks "$DAEMON_PID")
  logs_idle="$(( (l1 - l0) * 10 )) ms (daemon $(( (m1 - m0) * 10 )) ms)"
  tmux -L "$SOCK" send-keys -t d l
else
  logs_idle="n/a (no log pane)"
fi

# 100,000 recorded requests over 30 days, written straight into the store
# while the daemon is stopped, then `u` → the usage view with its total.
tmux -L "$SOCK" kill-server 2>/dev/null || true
"$BIN" daemon stop >/dev/null
python3 - "$SWITCHYARD_HOME/switchyard.db" <<'PY'
import random, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
models = ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5-codex", "gemini-2.5-pro"]
rows = []
for i in range(100_000):
    app = random.choice(["claude", "codex", "gemini"])
    rows.append((now - random.randrange(30 * 86_400_000), app, "p", "POST", "/v1/messages",
                 random.choice(models), 200, "ok", 900, 300, 100, 2000,
                 random.randrange(5000), random.randrange(800), 0, 0, 0, 0, random.randrange(10**8)))
db.executemany("""INSERT INTO requests (time_ms, app, provider, method, path, model, status,
    outcome, latency_ms, ttfb_ms, bytes_in, bytes_out, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
    cost_nano_usd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)
db.commit()
PY
"$BIN" daemon start >/dev/null
tmux -L "$SOCK" new-session -d -s d -x 120 -y 40 "env SWITCHYARD_HOME=$SWITCHYARD_HOME $BIN"
wait_screen 'gemini' "$(now_ms)" >/dev/null
usage=()
for i in 1 2 3 4 5; do
  t0=$(now_ms)
  tmux -L "$SOCK" send-keys -t d u
  if ! usage+=("$(wait_screen 'total' "$t0" 2>/dev/null)"); then usage=("n/a (no usage view)"); break; fi
  tmux -L "$SOCK" send-keys -t d u
  sleep 0.2
done

sorted() { printf '%s\n' "$@" | sort -n | tr '\n' ' '; }
echo
echo "| figure | value |"
echo "|---|---|"
echo "| attach to first full frame (5 runs, ms) | $(sorted "${attach[@]}")|"
echo "| key press (Space) to updated screen, incl. the worker start/stop (6 runs, ms) | $(sorted "${keys[@]}")|"
echo "| dashboard RSS | ${rss} KiB |"
echo "| dashboard CPU over 10 s idle, log pane closed | $(( (c1 - c0) * 10 )) ms (daemon $(( (d1 - d0) * 10 )) ms) |"
echo "| dashboard CPU over 10 s idle, log pane open | $logs_idle |"
echo "| u to the usage view drawn, 100,000 requests over 30 days (5 runs, ms) | $(sorted "${usage[@]}")|"
