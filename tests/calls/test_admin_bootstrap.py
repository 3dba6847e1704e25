"""`ensure_admin`: the first admin's password goes to a private file, never to the terminal."""
from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

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


def test_an_old_password_file_without_its_admin_gets_a_new_admin_and_is_kept_aside(settings, tmp_path, monkeypatch):
    """`make run` on a new database with an old var/: no refusal, a new admin, both files."""
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    path = tmp_path / "admin-password.txt"
    path.write_text("admin\nthe-old-databases-password\n")
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)

    username, password = path.read_text().split()
    assert password != "the-old-databases-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_user_model().objects.get(username=username, is_superuser=True).check_password(password)
    (kept,) = tmp_path.glob("admin-password.*.old.txt")
    assert kept.read_text() == "admin\nthe-old-databases-password\n"
    printed = out.getvalue()
    assert str(path) in printed and str(kept) in printed and password not in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["admin-password.txt", kept.name])  # no temp file left


def test_a_planted_symlink_is_never_written_through(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    target = tmp_path / "somewhere-else.txt"
    target.write_text("not yours\n")
    (settings.VAR_DIR / "admin-password.txt").symlink_to(target)
    call_command("ensure_admin", stdout=io.StringIO())

    assert target.read_text() == "not yours\n"
    path = settings.VAR_DIR / "admin-password.txt"
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    username, password = path.read_text().split()
    assert get_user_model().objects.get(username=username).check_password(password)


def test_an_existing_admin_leaves_everything_as_it_is(settings, tmp_path, monkeypatch, admin_user):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    path = tmp_path / "admin-password.txt"
    path.write_text("admin\nstill-valid\n")
    call_command("ensure_admin", stdout=io.StringIO())
    assert path.read_text() == "admin\nstill-valid\n"
    assert list(tmp_path.iterdir()) == [path]
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_the_password_comes_from_admin_password_file_and_is_not_written_anywhere(settings, tmp_path, monkeypatch):
    """compose's secret and Kubernetes' Secret volume: a file holding the password."""
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path / "var"
    (tmp_path / "password").write_text("a-long-chosen-password\n")
    monkeypatch.setenv("ADMIN_PASSWORD_FILE", str(tmp_path / "password"))
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    assert get_user_model().objects.get(username="admin", is_superuser=True).check_password("a-long-chosen-password")
    assert "a-long-chosen-password" not in out.getvalue() and not settings.VAR_DIR.exists()


@pytest.mark.parametrize("content", [None, "  \n"], ids=["missing", "empty"])
def test_a_named_password_file_that_is_missing_or_empty_creates_no_admin(settings, tmp_path, monkeypatch, content):
    from django.core.management.base import CommandError

    settings.VAR_DIR = tmp_path / "var"
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("ADMIN_PASSWORD_FILE", str(path))
    with pytest.raises(CommandError, match="ADMIN_PASSWORD_FILE"):
        call_command("ensure_admin", stdout=io.StringIO())
    assert not get_user_model().objects.exists()
