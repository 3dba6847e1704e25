"""Create a first admin account on a fresh install, so staff can log in at once.

The password comes from ADMIN_PASSWORD, or is generated, printed once and kept
in var/admin-password.txt. Does nothing when a superuser exists.
"""
from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account if there is none."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        path = settings.VAR_DIR / "admin-password.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{username}\n{password}\n")
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(f"Created admin account {username!r} with password {password!r} (saved in {path})."))
