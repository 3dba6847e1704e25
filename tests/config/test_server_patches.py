"""The daphne/Twisted/autobahn patches live in one module, are written against pinned
versions, and the server refuses to start when a patched function changed under them."""
from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from daphne.ws_protocol import WebSocketProtocol

from config import server_patches

ROOT = Path(__file__).resolve().parents[2]


def test_the_versions_the_patches_are_written_against_are_pinned_and_installed():
    pins = dict(re.findall(r"^([A-Za-z][\w.-]*)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    for name, expected in server_patches.PINNED.items():
        assert pins.get(name) == expected, f"requirements.txt must pin {name}=={expected}"
        assert version(name) == expected


def test_nothing_has_moved_under_the_patches():
    assert server_patches.check() == []


def test_a_changed_signature_is_named(monkeypatch):
    def on_message(self, payload, isBinary, received_at=None):  # noqa: N803 - a daphne that changed
        pass

    monkeypatch.setattr(WebSocketProtocol, "onMessage", on_message)
    (problem,) = server_patches.check()
    assert "daphne.ws_protocol.WebSocketProtocol.onMessage(self, payload, isBinary, received_at=None)" in problem


def test_new_code_behind_the_same_signature_is_named(monkeypatch):
    def server_close(self, code=None):
        self.sendClose(code=code or 1000, reason="bye")

    monkeypatch.setattr(WebSocketProtocol, "serverClose", server_close)
    (problem,) = server_patches.check()
    assert "WebSocketProtocol.serverClose has new code" in problem


def test_the_server_refuses_to_start_when_a_patched_function_changed(tmp_path):
    """Through the real entry point: a daphne whose onMessage takes another argument."""
    changed = (
        "import daphne.ws_protocol as w\n"
        "w.WebSocketProtocol.onMessage = lambda self, payload, isBinary, extra=None: None\n"
        "from config.server import main\n"
        "raise SystemExit(main(['--port', '1']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", changed], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path)},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to start" in result.stderr and "WebSocketProtocol.onMessage" in result.stderr
    assert "daphne 4.2.3" in result.stderr


def test_apply_patches_once_and_the_originals_stay_reachable(monkeypatch):
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol
    from twisted.internet import tcp

    patched_names = [(WebSocketProtocol, "onMessage"), (WebSocketProtocol, "serverClose"), (tcp.Connection, "write")]
    patched_names += [(module, name) for module in (protocol, twisted_websocket) for name in ("hltype", "hlval")]
    for owner, name in patched_names:
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    monkeypatch.setattr(server_patches, "_applied", False)
    original = WebSocketProtocol.onMessage
    server_patches.apply()
    patched = WebSocketProtocol.onMessage
    server_patches.apply()
    assert WebSocketProtocol.onMessage is patched is not original
    assert getattr(patched, "__original__", None) is original
    assert server_patches.check() == []  # checks what was there before the patch
