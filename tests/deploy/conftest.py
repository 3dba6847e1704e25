"""What the deployment tests share: a PostgreSQL database of their own for the
server processes they start (the production setup needs a shared database)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database of its own for the servers a test starts, dropped afterwards."""
    import psycopg

    name = f"voicebot_{request.node.module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}"[:63]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(PG_ADMIN_URL)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
