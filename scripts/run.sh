#!/usr/bin/env bash
# Installs and runs the product on the embedded defaults (SQLite, in-memory
# channel layer, offline speech engines). HOST and PORT choose the address.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin
echo "Voice bot on http://${HOST:-127.0.0.1}:${PORT:-8000}/  (dashboard: /dashboard/, admin: /admin/)"
exec .venv/bin/daphne -b "${HOST:-127.0.0.1}" -p "${PORT:-8000}" config.asgi:application
