#!/usr/bin/env bash
# The production setup (`make serve`): WORKERS server processes (`python -m
# config.server`: daphne with the graceful drain; default: one per core) behind
# haproxy on HOST:PORT, on DATABASE_URL and REDIS_URL. Ctrl-C/SIGTERM drains them.
#
# Several workers need a database and a channel layer they all share: without
# REDIS_URL the dashboard's live feed, the rate limit and admission control would
# each see one worker only, and SQLite does not take writers from several
# processes well. So WORKERS>1 refuses to start without REDIS_URL and a
# PostgreSQL DATABASE_URL. WORKERS=1 runs one daphne on HOST:PORT directly.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS="${WORKERS:-$(nproc)}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
if ! [[ "$WORKERS" =~ ^[1-9][0-9]*$ ]]; then
  echo "serve: WORKERS must be a whole number of 1 or more (got '$WORKERS')" >&2
  exit 2
fi
if [ "$WORKERS" -gt 1 ]; then
  why=()
  [ -n "${REDIS_URL:-}" ] || why+=("REDIS_URL is not set (the live feed, rate limit and admission control must be shared by all workers)")
  case "${DATABASE_URL:-}" in
    "" | sqlite*) why+=("DATABASE_URL is not a shared database such as PostgreSQL (SQLite serves one process)") ;;
  esac
  if [ ${#why[@]} -gt 0 ]; then
    echo "serve: refusing to start $WORKERS workers:" >&2
    printf '  - %s\n' "${why[@]}" >&2
    echo "Set them (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/voicebot REDIS_URL=redis://127.0.0.1:6379/0), or run WORKERS=1 (or make run)." >&2
    exit 2
  fi
fi

scripts/setup.sh serve
# Without SECRET_KEY a random key is kept in VAR_DIR/secret-key (0600), shared by this
# machine's workers; several machines must be given the same SECRET_KEY.
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
  export SECRET_KEY_FILE="${VAR_DIR:-var}/secret-key"
  .venv/bin/python -m config.secret_key "$SECRET_KEY_FILE"
fi
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin
# Every call is a socket on haproxy and on a worker: allow far more than 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$WORKERS" -eq 1 ]; then
  echo "Voice bot on http://$HOST:$PORT/ (1 worker)"
  exec .venv/bin/python -m config.server --host "$HOST" --port "$PORT"
fi

run_dir="${VAR_DIR:-var}/serve"
mkdir -p "$run_dir"
# One /metrics for all workers (prometheus-client multiprocess mode): the workers share
# a directory of sample files, emptied at each start so old processes' counts go.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$run_dir/metrics}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

maxconn=$(( ($(ulimit -n) - 200) / 2 ))
cfg="$run_dir/haproxy.cfg"
cat > "$cfg" <<CFG
# Written by scripts/serve.sh; edits are lost on the next start.
global
    # Two sockets per call (client and worker side) within the file limit.
    maxconn $maxconn
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 2h
frontend voicebot
    bind $HOST:$PORT
    default_backend workers
backend workers
    # A call is a long WebSocket: send each new one to the worker with the fewest.
    balance leastconn
    # Only warmed workers (engines loaded, prompts cached) get callers.
    option httpchk GET /readyz
CFG
for i in $(seq 1 "$WORKERS"); do
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # haproxy appends the caller's address to X-Forwarded-For; TRUSTED_PROXIES tells
  # the workers to take the hop haproxy saw (calls/clientip.py), not one a client wrote.
  TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}" WORKER_ID="$(hostname)-w$i" \
    .venv/bin/python -m config.server --host 127.0.0.1 --port "$port" &
  pids+=($!)
  echo "    server w$i 127.0.0.1:$port check inter 2s" >> "$cfg"
done
haproxy -c -q -f "$cfg"
echo "Voice bot on http://$HOST:$PORT/ ($WORKERS workers behind haproxy)"
haproxy -db -f "$cfg" &
pids+=($!)
wait -n "${pids[@]}"
echo "serve: a process exited; stopping the others" >&2
exit 1
