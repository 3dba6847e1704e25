#!/usr/bin/env bash
# Installs what the benchmarks need beyond the test setup: Debian's flite and
# festival with two of its English voices, the synthesizers whose voices speak the
# held-out sets (bench/heldout.py). The product and the test suite never use them.
# Usage: scripts/bench-setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
if ! command -v flite >/dev/null || ! command -v text2wave >/dev/null || [ ! -d /usr/share/festival/voices/english/ked_diphone ] \
    || [ ! -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    flite festival festvox-kdlpc16k festvox-us-slt-hts >/dev/null
fi
