"""What the deployment tests share: a PostgreSQL database of their own for the
server processes they start (the production setup needs a shared database)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@contextmanager
def own_database(name: str) -> Iterator[str]:
    """A PostgreSQL database called `name` (at most 63 characters), dropped afterwards; its URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(PG_ADMIN_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database of its own for the servers a test starts, dropped afterwards."""
    with own_database(f"voicebot_{request.node.module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}"[:63]) as url:
        yield url


def via(url: str, port: int, user: str = "postgres") -> str:
    """`url` reached through a local port (a tests.faults.TcpProxy in front of PostgreSQL), as `user`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{user}@127.0.0.1:{port}", parts.path, "", ""))
