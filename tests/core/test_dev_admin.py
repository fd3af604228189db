"""`manage.py ensure_dev_admin`: `make run` never leaves a fresh database without a way into the admin."""

import json
import stat
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _debug(settings):
    """`make run` is a development server; pytest-django turns DEBUG off by default."""
    settings.DEBUG = True


def stored_login(path) -> dict:
    (login,) = json.loads(path.read_text()).values()
    return login


def run(path) -> str:
    out = StringIO()
    call_command("ensure_dev_admin", "--credentials", str(path), stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_creates_a_superuser_with_a_stored_login_when_there_is_none(tmp_path):
    path = tmp_path / "dev-admin.json"
    printed = run(path)

    login = stored_login(path)
    assert printed == f"{login['email']} / {login['password']} (created now for development)"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user = get_user_model().objects.get(email=login["email"])
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.check_password(login["password"])


@pytest.mark.django_db
def test_the_next_start_prints_the_same_login_and_creates_nothing(tmp_path):
    path = tmp_path / "dev-admin.json"
    run(path)
    login = stored_login(path)

    assert run(path) == f"{login['email']} / {login['password']}"
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_an_existing_superuser_is_named_and_no_development_admin_is_created(tmp_path):
    UserFactory(email="owner@example.com", is_staff=True, is_superuser=True)
    path = tmp_path / "dev-admin.json"

    assert run(path).startswith("owner@example.com (password as you set it")
    assert not path.exists()
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_a_password_changed_by_hand_is_kept_and_the_account_named(tmp_path):
    path = tmp_path / "dev-admin.json"
    run(path)
    email = stored_login(path)["email"]
    user = get_user_model().objects.get(email=email)
    user.set_password("changed-by-hand-Passw0rd")
    user.save()

    # The stored login no longer works, and it is the only superuser: it is named, not reset.
    assert run(path).startswith(f"{email} (password as you set it")
    assert get_user_model().objects.get(email=email).check_password("changed-by-hand-Passw0rd")


@pytest.mark.django_db
def test_refuses_without_debug(tmp_path, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        run(tmp_path / "dev-admin.json")
    assert not get_user_model().objects.filter(is_superuser=True).exists()


@pytest.mark.django_db
def test_logins_are_kept_per_database(tmp_path, settings):
    path = tmp_path / "dev-admin.json"
    path.write_text(json.dumps({"/elsewhere:5432/videoflix": {"email": "a@example.com", "password": "x"}}))
    run(path)

    logins = json.loads(path.read_text())
    db = settings.DATABASES["default"]
    assert set(logins) == {"/elsewhere:5432/videoflix", f"{db['HOST']}:{db['PORT']}/{db['NAME']}"}
