"""A local S3-compatible server for tests: moto's server in its own process, speaking the
real S3 wire protocol over HTTP on 127.0.0.1 (signed requests, buckets, ranges). It keeps
its data in memory, so a restart is an empty store: `S3Server.start()` after `stop()`
is a store that was down and came back (its bucket made again)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

BUCKET = "voicebot-recordings"
KEYS = {"access_key": "testing-key", "secret_key": "testing-secret", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:  # until it accepts connections (a bounded wait for a process to start)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        self.client().create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEYS["access_key"],
                            aws_secret_access_key=KEYS["secret_key"], region_name=KEYS["region_name"])

    def storage_setting(self) -> dict[str, Any]:
        """STORAGES["recordings"] for this server, as config/settings.py builds it."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": self.endpoint, "location": "recordings",
                        "default_acl": None, "file_overwrite": False, "querystring_auth": True,
                        "querystring_expire": 300, "addressing_style": "path", "signature_version": "s3v4", **KEYS,
                        # a store that is down fails fast in tests (botocore's own retries kept short)
                        "client_config": _client_config()},
        }


def _client_config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"},
                  signature_version="s3v4", s3={"addressing_style": "path"})


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()
