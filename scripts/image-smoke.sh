#!/usr/bin/env bash
# Smoke test of the container image, run in CI after `make image`. `podman run` cannot
# work on this kind of machine (crun cannot set rlimits), so the image is exercised the
# other way round: mount its root file system, start the image's own command with the
# image's own environment and user inside a chroot (private mount namespace: /proc, /dev,
# and tmpfs for /tmp and the state directory), bound to loopback; wait until the speech
# engines inside the image have loaded (and the first admin exists); run the image's
# HEALTHCHECK command; play one typed call through the protocol (POST /api/calls/ + the
# WebSocket, devtools/typed_call.py
# from the host's virtualenv) to a stored outcome; SIGTERM it and check that it drains and
# exits 0; unmount. Usage: scripts/image-smoke.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${1:-${IMAGE:-localhost/voicebot:latest}}"
# The caller side (devtools/typed_call.py) runs from the host's virtualenv: make it on a fresh
# clone (nothing to do after `make test`, which CI runs first).
scripts/setup.sh test >/dev/null
PORT="${SMOKE_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
PODMAN=(podman); [ "$(id -u)" -eq 0 ] || PODMAN=(sudo podman)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
log=$(mktemp -t voicebot-image-smoke.XXXXXX.log)
started=$(date +%s)

inspect() { "${PODMAN[@]}" image inspect --format "$1" "$IMAGE"; }
user=$(inspect '{{.Config.User}}')
workdir=$(inspect '{{.Config.WorkingDir}}')
mapfile -t image_env < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t cmd < <(inspect '{{range .Config.Cmd}}{{println .}}{{end}}' | sed '/^$/d')
state=$(printf '%s\n' "${image_env[@]}" | sed -n 's/^VAR_DIR=//p')
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || { echo "FAIL: the image runs as root ($user)"; exit 1; }

mnt=$("${PODMAN[@]}" image mount "$IMAGE")
server=""
cleanup() {
  # The server is unshare's child (it runs as the image's user, so it does not get
  # unshare's death signal): end it first, then unshare.
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    for child in $(pgrep -P "$server"); do $SUDO kill -KILL "$child" 2>/dev/null || true; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  "${PODMAN[@]}" image unmount "$IMAGE" >/dev/null || true
}
trap cleanup EXIT

secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')  # given at run time, as a deployment does
echo "== $IMAGE mounted at $mnt; starting '${cmd[*]}' as $user on 127.0.0.1:$PORT"
# The mounts live in their own namespace and vanish with it; the server is its last process.
$SUDO unshare --mount --propagation private --fork env -i /bin/sh -c '
  mnt=$1 state=$2 user=$3 workdir=$4; shift 4
  mount -t proc proc "$mnt/proc" && mount --rbind /dev "$mnt/dev"
  mount -t tmpfs -o mode=1777 tmpfs "$mnt/tmp"
  mount -t tmpfs -o "uid=${user%%:*},gid=${user##*:},mode=0750" tmpfs "$mnt$state"
  cd "$mnt$workdir" || exit 1
  exec chroot --userspec="$user" "$mnt" /bin/sh -c "cd \"$workdir\" && exec env \"\$@\"" sh "$@"
' sh "$mnt" "$state" "$user" "$workdir" "${image_env[@]}" HOST=127.0.0.1 "PORT=$PORT" "SECRET_KEY=$secret" "${cmd[@]}" >"$log" 2>&1 &
server=$!

fail() { echo "FAIL: $*"; echo "--- server log"; tail -40 "$log"; exit 1; }
for _ in $(seq 1500); do  # up to 5 minutes: migrations, then engine warm-up inside the image
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  grep -q "speech engines ready" "$log" && break
  grep -q "warm-up failed" "$log" && fail "speech engines did not load inside the image"
  sleep 0.2
done
grep -q "speech engines ready" "$log" || fail "speech engines not ready after 5 minutes"
# ENSURE_ADMIN_ON_START=1: the first admin, its generated password in the state directory.
grep -q "Created admin account 'admin'; its password is in $state/admin-password.txt" "$log" || fail "no first admin"
.venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' \
  "http://127.0.0.1:$PORT/readyz" || fail "/readyz"

$SUDO chroot --userspec="$user" "$mnt" /bin/sh -c "cd $workdir && exec env $(printf '%q ' "${image_env[@]}") PORT=$PORT $(inspect '{{range .Config.Healthcheck.Test}}{{.}} {{end}}' | sed 's/^CMD //')" \
  || fail "the image's HEALTHCHECK command"
echo "== HEALTHCHECK passes"

.venv/bin/python -m devtools.typed_call "http://127.0.0.1:$PORT" >"$log.call" || { cat "$log.call"; fail "typed call"; }
outcome=$(.venv/bin/python -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["status"], c["outcome"], len(c["answers"]))' "$log.call")
[ "$outcome" = "ended qualified 3" ] || fail "typed call stored '$outcome', expected 'ended qualified 3'"
echo "== typed call stored: $outcome"

kill -TERM "$(pgrep -P "$server")"
for _ in $(seq 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
kill -0 "$server" 2>/dev/null && fail "no exit within 30 s of SIGTERM"
wait "$server" || fail "exit status $? after SIGTERM"
grep -q "drained: 0 call(s) finished, 0 ended on shutdown" "$log" || fail "no drain on SIGTERM"
server=""
echo "Image smoke test passed in $(( $(date +%s) - started )) s (engines loaded, health check, typed call qualified and stored, drained on SIGTERM)"
rm -f "$log" "$log.call"
