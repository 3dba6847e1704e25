"""`ensure_admin`: the first admin's password goes to a private file, never to the terminal."""
from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_generated_password_is_written_privately_and_not_printed(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    path = tmp_path / "admin-password.txt"
    username, password = path.read_text().split()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password not in out.getvalue() and str(path) in out.getvalue()
    assert get_user_model().objects.get(username=username).check_password(password)


def test_an_existing_password_file_is_never_overwritten(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    planted = tmp_path / "admin-password.txt"
    planted.write_text("planted\n")
    with pytest.raises(CommandError):
        call_command("ensure_admin", stdout=io.StringIO())
    assert planted.read_text() == "planted\n"
    assert not get_user_model().objects.filter(is_superuser=True).exists()  # rolled back
