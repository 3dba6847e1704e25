#!/usr/bin/env bash
# `make restart`: a rolling restart of the workers `make serve` runs, dropping no call
# (after a `git pull`, say). It sends SIGUSR1 to scripts/serve.sh, which applies
# migrations and replaces the workers one at a time (see there), then follows its
# progress until it is done. Exit 0 when every worker was replaced, 1 when one
# could not be (the old one keeps serving), 2 when there is nothing to restart.
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir="${VAR_DIR:-var}/serve"
pid_file="$run_dir/serve.pid"
status_file="$run_dir/restart.status"
log_file="$run_dir/restart.log"

pid=$(cat "$pid_file" 2>/dev/null || true)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  echo "restart: no \`make serve\` with several workers is running here ($pid_file)." >&2
  echo "With WORKERS=1 (or make run) there is no balancer to move callers to: stop and start it." >&2
  exit 2
fi
read -r state gen _ 2>/dev/null < "$status_file" || { state=none; gen=0; }
if [ "$state" = running ]; then
  echo "restart: a rolling restart is already running (see $log_file)." >&2
  exit 2
fi
shown=$(wc -l < "$log_file" 2>/dev/null || echo 0)
kill -USR1 "$pid"  # not SIGHUP: under nohup, serve.sh could not trap it
while true; do
  sleep 1
  lines=$(wc -l < "$log_file" 2>/dev/null || echo 0)
  if [ "$lines" -gt "$shown" ]; then
    tail -n +"$((shown + 1))" "$log_file" | head -n "$((lines - shown))"
    shown=$lines
  fi
  read -r now_state now_gen rest 2>/dev/null < "$status_file" || continue
  if [ "$now_gen" -gt "$gen" ] && [ "$now_state" != running ]; then
    [ "$now_state" = done ] && exit 0
    echo "restart: failed ($rest); see $log_file" >&2
    exit 1
  fi
  kill -0 "$pid" 2>/dev/null || { echo "restart: make serve exited" >&2; exit 1; }
done
