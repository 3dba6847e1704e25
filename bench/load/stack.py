"""What the load bench runs besides its callers: the server, the cloud stand-in, a rolling restart.

The server is started as an operator starts it (`scripts/serve.sh`, or --server-cmd)
in its own process group, and stopped with everything it started. The cloud
stand-in (devtools.fakecloud) runs in a process of its own, so its CPU is counted
apart from the callers' and the server's.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- the cloud stand-in
def run_fake_cloud(port_out: mp.Queue, transcript: str, asr_s: float, tts_s: float, done: Any) -> None:
    """A process's target: the fake cloud until `done` (an mp.Event) is set; its URLs, then
    how many requests each service had, go out on `port_out`."""
    from devtools.fakecloud import FakeCloud

    fake = FakeCloud()
    fake.default_transcript = transcript
    fake.transcribe_delay = asr_s
    fake.first_audio_delay = tts_s
    fake.chunk_delay = 0.0  # the speech itself streams as fast as the link allows
    fake.ignore_client_hangups()  # a caller hanging up mid-stream is normal here
    port_out.put((fake.openai_url, fake.elevenlabs_url))
    done.wait()  # (an mp.Event: the bench is over) then what it was asked, and by how much
    port_out.put({service: len(fake.requests_for(service)) for service in ("openai", "elevenlabs")})
    fake.close()


class CloudStandIn:
    """The fake cloud in its own process, with the server settings that point at it."""

    def __init__(self, transcript: str, asr_ms: float, tts_ms: float) -> None:
        self._out: mp.Queue = mp.Queue()
        self._done = mp.Event()
        self.process = mp.Process(
            target=run_fake_cloud, args=(self._out, transcript, asr_ms / 1000, tts_ms / 1000, self._done), daemon=True
        )
        self.process.start()
        openai_url, elevenlabs_url = self._out.get(timeout=30)
        from devtools.fakecloud import ELEVENLABS_KEY, OPENAI_KEY

        self.env = {
            "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": openai_url, "ELEVENLABS_API_KEY": ELEVENLABS_KEY,
            "ELEVENLABS_BASE_URL": elevenlabs_url, "ASR_PROVIDER": "openai", "TTS_PROVIDER": "elevenlabs",
        }

    def stop(self) -> dict[str, int]:
        """Stop it; the requests each service had ({} if it did not say)."""
        self._done.set()
        try:
            requests = self._out.get(timeout=5)
        except Exception:
            requests = {}
        self.process.terminate()
        return requests


# ---------------------------------------------------------------------- the server
def start_server(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """The server in its own process group (so `stop` ends all it started), logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def stop(server: subprocess.Popen) -> None:
    """The server and everything it started (its own process group)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def wait_ready(base: str, proc: subprocess.Popen, seconds: float) -> None:
    import httpx

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/bots/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not come up")


@dataclass
class Restart:
    """A rolling restart run the way an operator runs it (`make restart`), in a thread."""

    env: dict
    at: float  # wall clock when to start it
    began: float = 0.0
    ended: float = 0.0
    exit_code: int | None = None
    output: str = ""

    def run(self) -> None:
        time.sleep(max(0.0, self.at - time.time()))
        self.began = time.time()
        done = subprocess.run(
            [str(ROOT / "scripts/restart.sh")], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=1800
        )
        self.ended = time.time()
        self.exit_code, self.output = done.returncode, done.stdout + done.stderr

    def figures(self, results: list) -> dict:
        """When it ran against when each call (a `CallResult`) was in progress."""
        return {
            "exit_code": self.exit_code,
            "seconds": round(self.ended - self.began, 1) if self.ended else None,
            "calls_in_progress_at_start": sum(1 for r in results if r.started_at < self.began < r.ended_at),
            "calls_started_during": sum(1 for r in results if self.began <= r.started_at <= (self.ended or self.began)),
            "calls_in_progress_at_end": sum(1 for r in results if r.started_at < self.ended < r.ended_at),
            "log": self.output.splitlines()[-20:],
        }
