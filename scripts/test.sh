#!/usr/bin/env bash
# Installs what the tests need and runs the suite twice: on the embedded
# defaults (SQLite, in-memory layer) and on this machine's PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/services.sh
export SPEECH_WARMUP=0
export TEST_PROMPT_CACHE_DIR="${TMPDIR:-/tmp}/voicebot-test-prompt-cache"
mkdir -p test-artifacts
echo "== Suite on SQLite + in-memory channel layer"
env -u DATABASE_URL -u REDIS_URL .venv/bin/pytest "$@"
echo "== Suite on PostgreSQL + Redis"
DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
  .venv/bin/pytest "$@"
