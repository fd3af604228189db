"""The admin login refuses a (username, client address) pair after too many failures, and only it."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _admin_rate(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "admin_login": "5/hour",
        },
    }


def _admin_login(username, password, ip):
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": username, "password": password})


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def _fail_five_times(username, ip):
    for n in range(5):
        response = _admin_login(username, f"Wrong-Passw0rd-{n}", ip)
        assert response.status_code == 200
        assert "Please enter the correct" in response.content.decode()


def test_the_right_password_is_refused_from_an_address_after_five_failures_there(staff_user, password):
    _fail_five_times(staff_user.email, "10.9.9.9")

    response = _admin_login(staff_user.email, password, "10.9.9.9")

    assert not _logged_in(response)
    assert "Too many failed logins for this account from your address" in response.content.decode()


def test_a_strangers_failures_do_not_lock_staff_out_from_their_own_address(staff_user, password):
    _fail_five_times(staff_user.email, "10.9.9.9")

    assert _logged_in(_admin_login(staff_user.email, password, "10.0.0.1"))


def test_a_locked_pair_does_not_lock_other_accounts_from_the_same_address(staff_user, password):
    colleague = UserFactory(password=password, is_staff=True)
    _fail_five_times(staff_user.email.upper(), "10.9.9.9")

    assert _logged_in(_admin_login(colleague.email, password, "10.9.9.9"))


def test_four_failures_then_the_right_password_logs_in(staff_user, password):
    for n in range(4):
        assert _admin_login(staff_user.email, f"Wrong-{n}", "10.0.0.1").status_code == 200

    assert _logged_in(_admin_login(staff_user.email, password, "10.0.0.1"))
