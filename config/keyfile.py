"""The server's SECRET_KEY when none is given in the environment.

Anyone who knows SECRET_KEY can mint a call token for any call and read the
caller's name, phone and transcript, so a production server never falls back to a
known key: `make run` creates a random one in VAR_DIR on first start (created
with O_EXCL and mode 0600, never rewritten) and points SECRET_KEY_FILE at it.

    python -m config.keyfile PATH    # create PATH if missing, print nothing

(Named keyfile, not secret_key: it holds no key, only the code that makes and reads one.)
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def read_key_file(path: str, setting: str = "SECRET_KEY_FILE") -> str:
    """The key stored at `path` ('' when `path` is empty); a missing or empty file fails
    loudly, naming `setting` (the variable that named the file)."""
    if not path:
        return ""
    try:
        key = Path(path).read_text().strip()
    except OSError as exc:
        raise RuntimeError(f"{setting}={path!r} cannot be read: {exc}") from exc
    if not key:
        raise RuntimeError(f"{setting}={path!r} is empty")
    return key


def ensure_key_file(path: Path) -> bool:
    """Create `path` with a new random key (mode 0600) unless it exists; True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50) + "\n")
    return True


if __name__ == "__main__":  # pragma: no cover - exercised through scripts/run.sh
    if len(sys.argv) != 2:
        sys.exit("usage: python -m config.keyfile PATH")
    ensure_key_file(Path(sys.argv[1]))
