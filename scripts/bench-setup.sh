#!/usr/bin/env bash
# Installs what the benchmarks need beyond the test setup: Debian's flite, the
# synthesizer whose voices speak the held-out set (bench/heldout.py). The product
# and the test suite never use it. Usage: scripts/bench-setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
if ! command -v flite >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends flite >/dev/null
fi
