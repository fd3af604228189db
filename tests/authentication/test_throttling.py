"""Rate limits, counted in the real Redis cache: login failures per client and per address across
clients (successes never count), silent per-address email budgets, per-client request limits."""

import socket

import pytest
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_redis import get_redis_connection

from authentication import services
from authentication.tokens import password_reset_token
from tests.authentication.conftest import outbox_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**overrides):
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**current, **overrides},
        }

    return set_rates


def _post(client, path, body, ip="10.0.0.1"):
    return client.post(path, body, format="json", REMOTE_ADDR=ip)


def _assert_throttled(response, window=60):
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= window


def test_a_strangers_failures_from_one_address_never_stop_the_owner_logging_in_from_another(
    api_client, user, password, rates
):
    rates(login_ip="3/min", login_email="2/hour")
    wrong = {"email": user.email, "password": "Wrong-Passw0rd!"}

    answers = [_post(api_client, "/api/login/", wrong, ip="10.6.6.6").status_code for _ in range(10)]

    assert answers == [400] * 3 + [429] * 7
    right = {"email": user.email, "password": password}
    assert _post(api_client, "/api/login/", right, ip="10.0.0.1").status_code == 200
    assert _post(api_client, "/api/token/", right, ip="10.0.0.2").status_code == 200


def test_an_owner_who_mistypes_then_logs_in_many_times_is_never_refused(api_client, user, password, rates):
    rates(login_ip="2/min", login_email="1/hour")
    assert _post(api_client, "/api/login/", {"email": user.email, "password": "typo"}).status_code == 400

    right = {"email": user.email, "password": password}
    answers = {_post(api_client, path, right).status_code for path in ["/api/login/", "/api/token/"] * 10}

    assert answers == {200}


def test_login_failures_from_one_client_throttle_it_whatever_the_email(api_client, rates):
    rates(login_ip="3/min")

    for n in range(3):
        response = _post(api_client, "/api/login/", {"email": f"probe{n}@example.com", "password": "x"})
        assert response.status_code == 400
    _assert_throttled(_post(api_client, "/api/login/", {"email": "probe9@example.com", "password": "x"}))
    other_client = {"email": "probe9@example.com", "password": "x"}
    assert _post(api_client, "/api/login/", other_client, ip="10.0.0.99").status_code == 400


def test_failures_from_many_clients_lock_the_address_for_clients_it_does_not_know(
    api_client, user, password, rates
):
    rates(login_email="3/hour")
    right = {"email": user.email, "password": password}
    assert _post(api_client, "/api/login/", right, ip="10.0.0.1").status_code == 200
    for n in range(3):
        wrong = {"email": user.email.upper(), "password": f"guess-{n}"}
        assert _post(api_client, "/api/login/", wrong, ip=f"10.0.1.{n}").status_code == 400

    # A client new to the address is refused before its password is checked, even a right one.
    _assert_throttled(_post(api_client, "/api/login/", right, ip="10.0.1.9"), window=3600)
    _assert_throttled(
        _post(api_client, "/api/token/", {**right, "password": "x"}, ip="10.0.1.8"), window=3600
    )
    # The owner's known client is not refused because of the others' failures.
    assert _post(api_client, "/api/login/", right, ip="10.0.0.1").status_code == 200
    other = {"email": "someone.else@example.com", "password": "x"}
    assert _post(api_client, "/api/login/", other, ip="10.0.1.9").status_code == 400


def test_one_clients_failures_on_one_address_lock_that_pair_only(api_client, user, password, rates):
    rates(login_pair="2/hour")
    for n in range(2):
        wrong = {"email": user.email, "password": f"guess-{n}"}
        assert _post(api_client, "/api/login/", wrong, ip="10.6.6.6").status_code == 400

    right = {"email": user.email, "password": password}
    _assert_throttled(_post(api_client, "/api/token/", right, ip="10.6.6.6"), window=3600)
    other = {"email": "someone.else@example.com", "password": "x"}
    assert _post(api_client, "/api/login/", other, ip="10.6.6.6").status_code == 400
    assert _post(api_client, "/api/login/", right, ip="10.0.0.1").status_code == 200


def test_clients_that_failed_on_a_locked_address_cannot_keep_guessing(api_client, user, password, rates):
    rates(login_email="2/hour", login_pair="2/hour")
    right = {"email": user.email, "password": password}
    assert _post(api_client, "/api/login/", right, ip="10.0.0.1").status_code == 200
    guessers = ["10.0.1.1", "10.0.1.2"]
    for ip in guessers * 2:
        assert _post(api_client, "/api/login/", {**right, "password": "guess"}, ip=ip).status_code == 400

    for ip in [*guessers, "10.0.1.3"]:
        _assert_throttled(
            _post(api_client, "/api/login/", {**right, "password": "guess"}, ip=ip), window=3600
        )
    assert _post(api_client, "/api/login/", right, ip="10.0.0.1").status_code == 200


def test_a_password_reset_unlocks_the_address_for_every_client(api_client, user, rates):
    rates(login_email="1/hour", login_pair="1/hour")
    _post(api_client, "/api/login/", {"email": user.email, "password": "guess"}, ip="10.0.1.1")
    _assert_throttled(_post(api_client, "/api/login/", {"email": user.email, "password": "x"}), window=3600)
    _assert_throttled(
        _post(api_client, "/api/login/", {"email": user.email, "password": "x"}, ip="10.0.1.1"), 3600
    )

    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = password_reset_token.make_token(user)
    services.password_reset_confirm(uidb64=uid, token=token, new_password="Brand-New-Passw0rd!")

    right = {"email": user.email, "password": "Brand-New-Passw0rd!"}
    assert _post(api_client, "/api/login/", right).status_code == 200
    assert _post(api_client, "/api/login/", right, ip="10.0.1.1").status_code == 200


def test_token_endpoint_shares_the_login_failure_counters_and_successes_never_count(
    api_client, user, password, rates
):
    rates(login_ip="2/min")
    right = {"email": user.email, "password": password}
    for path in ["/api/login/", "/api/token/"] * 3:
        assert _post(api_client, path, right).status_code == 200

    assert _post(api_client, "/api/login/", {**right, "password": "x"}).status_code == 400
    assert _post(api_client, "/api/token/", {**right, "password": "y"}).status_code == 400

    _assert_throttled(_post(api_client, "/api/token/", right))
    _assert_throttled(_post(api_client, "/api/login/", right))


def test_throttled_answers_are_the_same_for_known_and_unknown_addresses(api_client, user, rates):
    rates(login_email="1/hour")
    for email in (user.email, "nobody@example.com"):
        assert (
            _post(api_client, "/api/login/", {"email": email, "password": "x"}, ip="10.0.1.1").status_code
            == 400
        )

    known = _post(api_client, "/api/login/", {"email": user.email, "password": "x"})
    unknown = _post(api_client, "/api/login/", {"email": "nobody@example.com", "password": "x"})

    assert known.status_code == unknown.status_code == 429
    assert known.json() == unknown.json()


def test_register_answers_alike_and_limits_the_emails_sent_per_address_silently(
    register, run_email_jobs, rates, api_client
):
    rates(register_email="1/hour")
    answers = []
    for n, email in enumerate(["new.viewer@example.com", "NEW.viewer@example.com", "new.viewer@example.com"]):
        api_client.defaults["REMOTE_ADDR"] = f"10.0.2.{n}"
        answers.append(register(email))
        run_email_jobs()

    assert [response.status_code for response in answers] == [201, 201, 201]
    assert len(outbox_to("new.viewer@example.com")) == 1


def test_password_reset_answers_alike_and_limits_the_emails_sent_per_address_silently(
    api_client, user, rates, run_email_jobs, django_capture_on_commit_callbacks
):
    rates(password_reset_email="2/hour")
    answers = []
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(_post(api_client, "/api/password_reset/", {"email": user.email}, ip=f"10.0.3.{n}"))
        run_email_jobs()

    assert {response.status_code for response in answers} == {200}
    assert len({response.content for response in answers}) == 1
    assert len(outbox_to(user.email)) == 2


def test_register_is_limited_per_client_address(api_client, rates, password):
    rates(register_ip="2/hour")
    body = {"password": password, "confirmed_password": password}

    for n in range(2):
        assert _post(api_client, "/api/register/", {**body, "email": f"v{n}@example.com"}).status_code == 201
    _assert_throttled(_post(api_client, "/api/register/", {**body, "email": "v9@example.com"}), window=3600)


def test_password_reset_is_limited_per_client_address(api_client, rates):
    rates(password_reset_ip="2/hour")

    for n in range(2):
        response = _post(api_client, "/api/password_reset/", {"email": f"v{n}@example.com"})
        assert response.status_code == 200
    _assert_throttled(_post(api_client, "/api/password_reset/", {"email": "v9@example.com"}), window=3600)


def test_throttle_counters_live_in_redis_and_do_not_store_email_addresses(api_client, user):
    _post(api_client, "/api/login/", {"email": user.email, "password": "x"})

    keys = [key.decode() for key in get_redis_connection("default").keys("*login-failures:*")]

    assert any("login-failures:client:10.0.0.1" in key for key in keys)
    assert any("login-failures:address:" in key for key in keys)
    assert not any(user.email in key for key in keys)


def test_token_refresh_is_not_throttled_by_the_login_limit(logged_in_client, rates):
    rates(login_ip="1/min", login_email="1/min")

    for _ in range(3):
        assert logged_in_client.post("/api/token/refresh/").status_code == 200


def test_limits_fail_open_while_the_cache_redis_is_unreachable(api_client, user, password, rates, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    rates(login_ip="1/min", login_email="1/min")
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port}/0"}
    }
    wrong = {"email": user.email, "password": "Wrong-Passw0rd!"}

    answers = [_post(api_client, "/api/login/", wrong).status_code for _ in range(3)]
    answers.append(_post(api_client, "/api/login/", {**wrong, "password": password}).status_code)

    assert answers == [400, 400, 400, 200]
