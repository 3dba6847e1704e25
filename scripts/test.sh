#!/usr/bin/env bash
# Installs what the tests need and runs the suite twice: every test on the
# embedded defaults (SQLite, in-memory layer), then again on this machine's
# PostgreSQL + Redis only the tests that touch the database, the channel layer
# or the browser (marked `backend` automatically; the rule is in tests/conftest.py). Slow speech and
# browser tests among those run only in the second pass (--heavy-once).
# Arguments go to both pytest runs: scripts/test.sh -k protocol
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/services.sh
export SPEECH_WARMUP=0
export TEST_PROMPT_CACHE_DIR="${TMPDIR:-/tmp}/voicebot-test-prompt-cache"
mkdir -p test-artifacts
echo "== Suite on SQLite + in-memory channel layer"
env -u DATABASE_URL -u REDIS_URL .venv/bin/pytest --heavy-once "$@"
echo "== Tests marked backend, on PostgreSQL + Redis"
DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
  .venv/bin/pytest --backend-only "$@"
