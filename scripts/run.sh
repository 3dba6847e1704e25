#!/usr/bin/env bash
# Installs and runs the product on the embedded defaults (SQLite, in-memory
# channel layer, offline speech engines). HOST and PORT choose the address.
# Without SECRET_KEY, a random key is generated into VAR_DIR/secret-key (mode
# 0600) on first start and kept for later starts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
  export SECRET_KEY_FILE="${VAR_DIR:-var}/secret-key"
  .venv/bin/python -m config.keyfile "$SECRET_KEY_FILE"
fi
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin
echo "Voice bot on http://${HOST:-127.0.0.1}:${PORT:-8000}/  (dashboard: /dashboard/, admin: /admin/)"
# The production server entry point: daphne, draining calls on Ctrl-C/SIGTERM (DRAIN_S);
# it writes no plain-text access log, so LOG_FORMAT=json output stays JSON.
exec .venv/bin/python -m config.server --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
