"""What `make serve` (scripts/serve.sh) asks of haproxy and its workers, in small steps.

serve.sh supervises the processes; the steps that talk to them (haproxy's admin
socket, a worker's /readyz, waiting with a deadline) are here, in plain Python
with no dependency, so the shell script stays readable and each step has one
place. Used by the rolling restart (`make restart`, or SIGUSR1 to serve.sh).

    servectl.py free-port
    servectl.py haproxy SOCKET COMMAND...          # prints haproxy's answer
    servectl.py wait-ready PORT PID SECONDS        # /readyz 200 from the worker PID on PORT
    servectl.py wait-up SOCKET BACKEND SERVER SECONDS   # haproxy sees the server UP
    servectl.py wait-exit PID SECONDS              # the process has gone
    servectl.py stop-budget                        # seconds a worker may take from SIGTERM to exit
    servectl.py lines                              # a worker's lines (settings.MAX_CALLS_PER_WORKER)

Exit status 0 when done, 1 when the deadline passed or the process died first.
"""
from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

POLL_S = 0.2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haproxy(sock: str, command: str) -> str:
    """One command on haproxy's admin socket (the stats socket at level admin)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ready(port: int) -> bool:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/readyz", headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def server_status(sock: str, backend: str, server: str) -> str:
    for row in haproxy(sock, "show stat").splitlines():
        fields = row.split(",")
        if fields[:2] == [backend, server]:
            return fields[17]
    return "?"


def until(check, seconds: float, pid: int | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline or (pid is not None and not alive(pid)):
            return False
        time.sleep(POLL_S)


def worker_settings():  # noqa: ANN201 - django.conf.settings
    """The settings a worker started with this environment reads."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from django.conf import settings

    return settings


def stop_budget() -> int:
    """How long a worker with this environment may take from SIGTERM to exit: its drain
    and the flush of the writes it holds (config.server.stop_budget_s, from the settings
    the worker reads). A rolling restart kills a worker only after this."""
    settings = worker_settings()
    from config.server import stop_budget_s

    return stop_budget_s(settings.DRAIN_S, settings.STORE_OUTAGE_S)


def main(argv: list[str]) -> int:
    match argv:
        case ["free-port"]:
            print(free_port())
            return 0
        case ["haproxy", sock, *words] if words:
            print(haproxy(sock, " ".join(words)), end="")
            return 0
        case ["wait-ready", port, pid, seconds]:
            return 0 if until(lambda: ready(int(port)), float(seconds), int(pid)) else 1
        case ["wait-up", sock, backend, server, seconds]:
            return 0 if until(lambda: server_status(sock, backend, server) == "UP", float(seconds)) else 1
        case ["wait-exit", pid, seconds]:
            return 0 if until(lambda: not alive(int(pid)), float(seconds)) else 1
        case ["stop-budget"]:
            print(stop_budget())
            return 0
        case ["lines"]:
            print(worker_settings().MAX_CALLS_PER_WORKER)  # 0 in the environment: the measured default
            return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
