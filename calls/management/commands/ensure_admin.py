"""Create a first admin account on a fresh install, so staff can log in at once.

The password comes from ADMIN_PASSWORD_FILE (a file holding it: a compose secret, a
Kubernetes Secret mounted as a file), or ADMIN_PASSWORD, or is generated and written to
VAR_DIR/admin-password.txt. Only the file's path is printed, never the password
(terminals and CI logs are kept). Does nothing when a superuser exists. A password file
that is named but missing or empty is an error: the stack must not come up with an
admin whose password nobody knows.

The file is written safely: a new file created with O_EXCL and mode 0600 from the
first byte, then renamed into place, so the password never goes into a file (or
through a symlink) that was already there. A file already there means an older
install: VAR_DIR kept from before while the database is new (`make run` on a fresh
DATABASE_URL, a dropped database). Its admin is not in this database, but its
password may still open the database it came from, so it is kept beside the new
one as admin-password.<time>.old.txt, and both paths are printed.
"""
from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.keyfile import read_key_file


def write_private(path: Path, text: str) -> Path | None:
    """Put `text` at `path` (mode 0600) without writing into anything already there.

    Returns where the file that was at `path` went (None if there was none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        kept = None
        if os.path.lexists(path):
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            kept = path.with_name(f"{path.stem}.{stamp}.old{path.suffix}")
            os.rename(path, kept)  # moves the entry (a symlink stays a symlink), reads nothing
        os.replace(fresh, path)
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    return kept


def given_password() -> tuple[str, str]:
    """The password an operator gave, and where it came from ("" when none was given)."""
    path = os.environ.get("ADMIN_PASSWORD_FILE", "")
    if path:
        try:
            return read_key_file(path, "ADMIN_PASSWORD_FILE"), path
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
    return os.environ.get("ADMIN_PASSWORD", ""), "ADMIN_PASSWORD"


class Command(BaseCommand):
    help = "Create the first admin account if there is none."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        given, source = given_password()
        password = given or secrets.token_urlsafe(18)
        with transaction.atomic():
            User.objects.create_superuser(username=username, email="", password=password)
            if given:
                self.stdout.write(self.style.SUCCESS(f"Created admin account {username!r} with the password from {source}."))
                return
            path = settings.VAR_DIR / "admin-password.txt"
            kept = write_private(path, f"{username}\n{password}\n")
        self.stdout.write(self.style.SUCCESS(f"Created admin account {username!r}; its password is in {path} (readable by you only)."))
        if kept is not None:
            self.stdout.write(
                f"{path} was already there, from an install whose admin is not in this database; "
                f"it is kept as {kept} (it may still open the database it came from)."
            )
