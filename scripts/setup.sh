#!/usr/bin/env bash
# Installs what the product needs on a fresh Debian machine: system packages
# (only those missing), a virtualenv with the Python requirements, the database
# schema and the two shipped bots. Usage: scripts/setup.sh [run|test]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-run}"

need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ "$kind" = serve ]; then
  command -v haproxy >/dev/null || need+=(haproxy)
fi
if [ "$kind" = test ]; then
  command -v sox >/dev/null || need+=(sox)
  command -v chromium >/dev/null || need+=(chromium)
  command -v node >/dev/null || need+=(nodejs)  # tests/test_demo_static.py runs the demo's JavaScript
  command -v promtool >/dev/null || need+=(prometheus)  # alert rule tests and the real scrape test
  command -v redis-server >/dev/null || need+=(redis-server)  # fault tests start a private redis-server
  PATH="$PATH:/usr/sbin" command -v haproxy >/dev/null || need+=(haproxy)  # checks deploy/compose/haproxy.cfg
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
req=requirements.txt; [ "$kind" = test ] && req=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum "$req" requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$req"
  touch "$stamp"
fi
