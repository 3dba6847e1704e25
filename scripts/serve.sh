#!/usr/bin/env bash
# The production setup (`make serve`): WORKERS server processes (`python -m
# config.server`: daphne with the graceful drain; default: one per core) behind
# haproxy on HOST:PORT, on DATABASE_URL and REDIS_URL. Ctrl-C/SIGTERM drains them.
#
# Rolling restart (several workers): `make restart`, or SIGUSR1 to this script
# (SIGHUP too, unless it was started under nohup: bash cannot trap a signal it
# started with ignored, so `make restart` sends SIGUSR1)
# (its pid is in VAR_DIR/serve/serve.pid). It applies migrations, then replaces
# the workers one at a time without dropping a call: a new worker starts beside
# the old one; once its /readyz answers 200, haproxy's admin socket puts the
# server slot in drain, points it at the new worker and makes it ready again;
# the old worker gets SIGTERM and drains (no new calls, its calls finish within
# DRAIN_S) while the new one takes the new calls; when it has exited, the next.
# Progress goes to VAR_DIR/serve/restart.log, the outcome to restart.status.
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
  .venv/bin/python -m config.keyfile "$SECRET_KEY_FILE"
fi
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin
# Every call is a socket on haproxy and on a worker: allow far more than 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$WORKERS" -eq 1 ]; then
  echo "Voice bot on http://$HOST:$PORT/ (1 worker)"
  exec .venv/bin/python -m config.server --host "$HOST" --port "$PORT"
fi

# Absolute: haproxy reads a relative `stats socket` path as host:port and refuses the config.
run_dir="$(realpath -m "${VAR_DIR:-var}")/serve"
mkdir -p "$run_dir"
# One /metrics for all workers (prometheus-client multiprocess mode): the workers share
# a directory of sample files, emptied at each start so old processes' counts go.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$run_dir/metrics}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
pids=()  # every process to watch: the serving workers and haproxy
ctl_pid=""
restart_wanted=0
trap 'restart_wanted=1' USR1 HUP  # a rolling restart, once serving (see the main loop)
cleanup() {
  trap - EXIT INT TERM
  trap '' USR1 HUP
  rm -f "$run_dir/serve.pid"
  [ -z "$ctl_pid" ] || kill "$ctl_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true  # also a worker still draining from a rolling restart
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM
# A step of scripts/servectl.py. In the background and waited for, so that a signal
# to this script is handled at once, not when a step of a restart has finished.
ctl() {
  .venv/bin/python scripts/servectl.py "$@" &
  ctl_pid=$!
  local rc
  while true; do
    rc=0
    wait "$ctl_pid" || rc=$?
    # Over 128 with the step still running: SIGUSR1/SIGHUP (a restart asked for) cut the wait short.
    [ "$rc" -gt 128 ] && kill -0 "$ctl_pid" 2>/dev/null || break
  done
  ctl_pid=""
  return "$rc"
}

maxconn=$(( ($(ulimit -n) - 200) / 2 ))
# Overload says "busy", never 502: haproxy sends a worker at most as many call sockets
# as it has lines (the worker's MAX_CALLS_PER_WORKER) and queues the rest for a moment
# (QUEUE_S) before answering 503 busy itself; connection failures are retried on another
# worker. Pages, API requests, probes and staff sockets have a backend of their own, so a
# worker full of calls still serves them (and answers POST /api/calls/ with its own busy).
lines=$(.venv/bin/python scripts/servectl.py lines)
cfg="$run_dir/haproxy.cfg"
cat > "$cfg" <<CFG
# Written by scripts/serve.sh; edits are lost on the next start.
global
    # Two sockets per call (client and worker side) within the file limit.
    maxconn $maxconn
    # The rolling restart re-points server slots here (set server ... addr/state).
    stats socket $run_dir/haproxy.sock mode 600 level admin
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 2h
    # A connection no worker can take yet waits this long, then gets the busy 503 below.
    timeout queue ${QUEUE_S:-3}s
    # A connection a worker refused (or reset before the request went out): try another worker.
    # Only then: a request a worker has received (a call socket's upgrade) is never sent twice.
    retries 3
    option redispatch 1
    retry-on conn-failure
    http-error status 503 content-type application/json string "{\"error\": {\"code\": \"busy\", \"message\": \"Every line is busy; try again shortly.\"}}" hdr Retry-After ${BUSY_RETRY_AFTER:-5}
frontend voicebot
    # Room in the accept queue for a burst of callers.
    bind $HOST:$PORT backlog ${LISTEN_BACKLOG:-2048}
    use_backend calls if { path_beg /ws/calls/ /ws/telephony/ }
    default_backend web
backend web
    # A call is a long WebSocket: send each new one to the worker with the fewest.
    balance leastconn
    # Only warmed workers (engines loaded, prompts cached) get callers.
    option httpchk GET /readyz
    # No request rides a connection to a worker that a rolling restart has just
    # replaced (it would answer "busy" while it drains): a kept-alive client (a browser,
    # the bench) has each request balanced afresh, over a new worker connection (the
    # worker side is closed after each response; loopback connects are cheap).
    option http-server-close
    http-reuse never
CFG
calls_backend="backend calls
    balance leastconn
    # At most the worker's lines of call sockets each ($lines).
    default-server maxconn $lines"
# start_worker SLOT PORT ID: a worker in the background; its pid in $started.
start_worker() {
  # haproxy appends the caller's address to X-Forwarded-For; TRUSTED_PROXIES tells
  # the workers to take the hop haproxy saw (calls/clientip.py), not one a client wrote.
  TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}" WORKER_ID="$3" \
    .venv/bin/python -m config.server --host 127.0.0.1 --port "$2" &
  started=$!
}
worker_pid=()  # slot -> pid of the worker serving it
worker_port=()
for i in $(seq 1 "$WORKERS"); do
  port=$(ctl free-port)
  # The id must be unique among live workers: a starting worker ends the calls its id
  # left in the database (a crash), and replacements start while the old one drains.
  start_worker "$i" "$port" "$(hostname)-w$i"
  worker_pid[i]=$started
  worker_port[i]=$port
  pids+=("$started")
  echo "    server w$i 127.0.0.1:$port check inter 2s" >> "$cfg"
  calls_backend+=$'\n'"    server w$i 127.0.0.1:$port track web/w$i"
done
echo "$calls_backend" >> "$cfg"
haproxy -c -q -f "$cfg"
# Open the door once the workers are warm: haproxy counts a server as up until its
# first checks fail, and would hand early callers to a worker still loading engines.
for i in $(seq 1 "$WORKERS"); do
  ctl wait-ready "${worker_port[i]}" "${worker_pid[i]}" "${START_S:-300}" \
    || echo "serve: w$i is not ready; haproxy sends it callers once /readyz says so" >&2
done
echo "Voice bot on http://$HOST:$PORT/ ($WORKERS workers behind haproxy)"
haproxy -db -f "$cfg" &
pids+=($!)

restart_log="$run_dir/restart.log"
restart_status="$run_dir/restart.status"
say() { echo "serve: restart: $*" | tee -a "$restart_log"; }
forget() { local keep=() p; for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }

# replace SLOT GENERATION: a new worker for slot SLOT, the old one drained and gone.
replace() {
  local i=$1 gen=$2 old=${worker_pid[$1]} port new t0=$SECONDS
  port=$(ctl free-port)
  start_worker "$i" "$port" "$(hostname)-w$i.$gen"
  new=$started
  pids+=("$new")
  say "w$i: new worker (pid $new, port $port) starting beside pid $old"
  if ! ctl wait-ready "$port" "$new" "${START_S:-300}"; then
    kill -KILL "$new" 2>/dev/null || true
    forget "$new"
    say "w$i: the new worker did not become ready; pid $old keeps serving"
    return 1
  fi
  # New calls to the new worker; the old one's calls go on through their tunnels.
  local backend
  for backend in web calls; do
    ctl haproxy "$run_dir/haproxy.sock" "set server $backend/w$i state drain" >/dev/null
    ctl haproxy "$run_dir/haproxy.sock" "set server $backend/w$i addr 127.0.0.1 port $port" >/dev/null
    ctl haproxy "$run_dir/haproxy.sock" "set server $backend/w$i state ready" >/dev/null
  done
  worker_pid[i]=$new
  worker_port[i]=$port
  forget "$old"  # its exit is expected now
  kill -TERM "$old" 2>/dev/null || true
  ctl wait-up "$run_dir/haproxy.sock" web "w$i" 60 || say "w$i: haproxy does not see the new worker UP yet"
  local budget
  budget=$(ctl stop-budget)  # the drain, then the flush of writes held through a database outage
  say "w$i: pid $old draining (up to $budget s with the flush of held writes)"
  if ! ctl wait-exit "$old" "$budget"; then
    say "w$i: pid $old still running after $budget s; killing it"
    kill -KILL "$old" 2>/dev/null || true
  fi
  say "w$i: replaced in $(( SECONDS - t0 )) s"
}

rolling_restart() {
  local gen=$(( ${generation:-0} + 1 )) t0=$SECONDS i
  generation=$gen
  echo "running $gen" > "$restart_status"
  say "rolling restart $gen of $WORKERS workers"
  if ! .venv/bin/python manage.py migrate --noinput -v 0 >> "$restart_log" 2>&1; then
    say "migrations failed; no worker was touched"
    echo "failed $gen migrations" > "$restart_status"
    return 0
  fi
  for i in $(seq 1 "$WORKERS"); do
    if ! replace "$i" "$gen"; then
      echo "failed $gen w$i" > "$restart_status"
      return 0
    fi
  done
  say "rolling restart $gen done in $(( SECONDS - t0 )) s"
  echo "done $gen $(( SECONDS - t0 ))" > "$restart_status"
}

echo $$ > "$run_dir/serve.pid"
rm -f "$restart_status"
: > "$restart_log"
while true; do
  if [ "$restart_wanted" = 1 ]; then
    restart_wanted=0
    rolling_restart
    continue
  fi
  rc=0
  wait -n "${pids[@]}" || rc=$?
  [ "$restart_wanted" = 1 ] && continue  # the wait was cut short by SIGUSR1/SIGHUP
  echo "serve: a process exited ($rc); stopping the others" >&2
  exit 1
done
