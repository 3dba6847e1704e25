"""One production worker (`python -m config.server`) in a subprocess, on loopback.

It has its own SQLite database in a temporary VAR_DIR (migrated at start) and
reads nothing of the test process's database or Redis settings. Tests and benches
talk to it over HTTP/WebSocket (`devtools.callclient` with `Network(worker.url)`)
and look at its database file once it has exited. `own_state_env` and `stop` serve
the other server processes tests start (the browser tests' server, the metrics stack).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
START_TIMEOUT_S = 240  # a bound for a loaded machine, not a wait
PROMPT_CACHE = Path(tempfile.gettempdir()) / "voicebot-liveserver-prompt-cache"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """A server's graceful stop (SIGTERM), then SIGKILL if it has not exited after `grace` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


#: What a server of its own must not take from the environment of the process that starts it.
NOT_INHERITED = frozenset({"DATABASE_URL", "REDIS_URL", "VAR_DIR", "PROMPT_CACHE_DIR", "DJANGO_SETTINGS_MODULE", "DEBUG"})

#: A worker for typed calls: no recogniser needed, espeak-ng speaks fast.
TYPED_CALLS = {
    "SPEECH_WARMUP": "0",
    "TTS_PROVIDER": "espeak",
    "SILENCE_TIMEOUT_S": "0",
    # Bot audio goes out as fast as it is made, as in the in-process tests
    # (tests/conftest.py): a typed call waits for events, not for espeak's lines
    # to play out in real time. Pacing has its own tests; a test that wants it
    # passes PLAYBACK_LEAD_MS itself.
    "PLAYBACK_LEAD_MS": "600000",
    "CALL_RATE_LIMIT": "100000",
    # Typed calls on espeak cost little: the per-client and per-worker caps (sized
    # for local Whisper) would refuse the load tests' calls; tests of admission set them.
    "MAX_CALLS_PER_CLIENT": "0",
    "MAX_CALLS_PER_WORKER": "1000",
}


def own_state_env(var_dir: Path, prompt_cache: Path, **settings: str) -> dict[str, str]:
    """The environment of a server process with state of its own: this process's
    environment without anything that would point it at the tests' database or Redis,
    its own VAR_DIR and prompt cache, and `settings` on top."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    prompt_cache.mkdir(parents=True, exist_ok=True)
    env.update(VAR_DIR=str(var_dir), PROMPT_CACHE_DIR=str(prompt_cache), DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def server_env(var_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a typed-call worker with its own state (`settings` on top)."""
    secret = secrets.token_urlsafe(50)  # a production worker refuses to start without one
    return own_state_env(var_dir, PROMPT_CACHE, **{**TYPED_CALLS, "SECRET_KEY": secret, **settings})


class Worker:
    """A running `python -m config.server`; `url` is its base address."""

    def __init__(self, var_dir: Path, *, port: int | None = None, **settings: str) -> None:
        self.var_dir = var_dir
        var_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = var_dir / "server.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "config.server", "--host", "127.0.0.1", "--port", str(self.port), "--migrate"],
                cwd=ROOT, env=server_env(var_dir, **settings), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def status(self, path: str) -> int:
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            return (await http.get(path)).status_code

    async def until_status(self, path: str, expected: int, timeout: float = START_TIMEOUT_S) -> None:
        """Poll `path` until it answers `expected` (the server starting, or starting to drain)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if await self.status(path) == expected:
                    return
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"{path} did not answer {expected} within {timeout} s:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)

    async def ready(self) -> Worker:
        await self.until_status("/readyz", 200)
        return self

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, timeout: float = 240) -> int:
        """Wait for the process to exit by itself; its return code."""
        return await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def query(self, sql: str, *params: object) -> list[tuple]:
        """Rows from the server's SQLite database."""
        with sqlite3.connect(self.var_dir / "db.sqlite3") as db:
            return db.execute(sql, params).fetchall()
