"""Create a first admin account on a fresh install, so staff can log in at once.

The password comes from ADMIN_PASSWORD, or is generated and written to
VAR_DIR/admin-password.txt: created with O_EXCL and mode 0600 from the first byte
(never world-readable, never overwriting a file someone planted). Only the
file's path is printed, never the password (terminals and CI logs are kept).
Does nothing when a superuser exists.
"""
from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Create the first admin account if there is none."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        given = os.environ.get("ADMIN_PASSWORD", "")
        password = given or secrets.token_urlsafe(18)
        with transaction.atomic():
            User.objects.create_superuser(username=username, email="", password=password)
            if given:
                self.stdout.write(self.style.SUCCESS(f"Created admin account {username!r} with the password from ADMIN_PASSWORD."))
                return
            path = settings.VAR_DIR / "admin-password.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError as exc:
                raise CommandError(f"{path} already exists; remove it (or set ADMIN_PASSWORD) and run again.") from exc
            with os.fdopen(fd, "w") as out:
                out.write(f"{username}\n{password}\n")
        self.stdout.write(self.style.SUCCESS(f"Created admin account {username!r}; its password is in {path} (readable by you only)."))
