"""Rate limits per client IP and per email address, counted in the real Redis cache."""

import pytest
from django_redis import get_redis_connection

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


def _assert_throttled(response):
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= 60


def test_login_is_limited_per_email_address_whatever_the_client_address(api_client, user, rates):
    rates(login_email="2/min")
    body = {"email": user.email, "password": "Wrong-Passw0rd!"}

    assert _post(api_client, "/api/login/", body, ip="10.0.0.1").status_code == 400
    upper = {**body, "email": user.email.upper()}
    assert _post(api_client, "/api/login/", upper, ip="10.0.0.2").status_code == 400
    _assert_throttled(_post(api_client, "/api/login/", body, ip="10.0.0.3"))
    # Even the right password waits: the limit is on attempts, not failures.
    right = {**body, "password": "Sturdy-Passw0rd!"}
    _assert_throttled(_post(api_client, "/api/login/", right, ip="10.0.0.4"))
    other = {"email": "someone.else@example.com", "password": "x"}
    assert _post(api_client, "/api/login/", other).status_code == 400


def test_login_is_limited_per_client_address_whatever_the_email(api_client, rates):
    rates(login_ip="3/min")

    for n in range(3):
        response = _post(api_client, "/api/login/", {"email": f"probe{n}@example.com", "password": "x"})
        assert response.status_code == 400
    _assert_throttled(_post(api_client, "/api/login/", {"email": "probe9@example.com", "password": "x"}))
    other_client = {"email": "probe9@example.com", "password": "x"}
    assert _post(api_client, "/api/login/", other_client, ip="10.0.0.99").status_code == 400


def test_token_endpoint_shares_the_login_limits(api_client, user, password, rates):
    rates(login_email="2/min")
    body = {"email": user.email, "password": password}

    assert _post(api_client, "/api/login/", body).status_code == 200
    assert _post(api_client, "/api/token/", body).status_code == 200
    _assert_throttled(_post(api_client, "/api/token/", body))
    _assert_throttled(_post(api_client, "/api/login/", body))


def test_throttled_answers_are_the_same_for_known_and_unknown_addresses(api_client, user, rates):
    rates(password_reset_email="1/hour")
    for email in (user.email, "nobody@example.com"):
        assert _post(api_client, "/api/password_reset/", {"email": email}).status_code == 200

    known = _post(api_client, "/api/password_reset/", {"email": user.email})
    unknown = _post(api_client, "/api/password_reset/", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 429
    assert known.json() == unknown.json()


def test_register_is_limited_per_email_address(api_client, rates, password):
    rates(register_email="1/hour")
    body = {"email": "new.viewer@example.com", "password": password, "confirmed_password": password}

    assert _post(api_client, "/api/register/", body, ip="10.0.0.1").status_code == 201
    response = _post(api_client, "/api/register/", {**body, "email": "NEW.viewer@example.com"}, ip="10.0.0.2")

    _assert_throttled_hour(response)


def test_register_is_limited_per_client_address(api_client, rates, password):
    rates(register_ip="2/hour")
    body = {"password": password, "confirmed_password": password}

    for n in range(2):
        assert _post(api_client, "/api/register/", {**body, "email": f"v{n}@example.com"}).status_code == 201
    _assert_throttled_hour(_post(api_client, "/api/register/", {**body, "email": "v9@example.com"}))


def test_password_reset_is_limited_per_client_address(api_client, rates):
    rates(password_reset_ip="2/hour")

    for n in range(2):
        response = _post(api_client, "/api/password_reset/", {"email": f"v{n}@example.com"})
        assert response.status_code == 200
    _assert_throttled_hour(_post(api_client, "/api/password_reset/", {"email": "v9@example.com"}))


def test_throttle_counters_live_in_redis_and_do_not_store_email_addresses(api_client, user):
    _post(api_client, "/api/login/", {"email": user.email, "password": "x"})

    keys = [key.decode() for key in get_redis_connection("default").keys("*throttle_login_*")]

    assert any("throttle_login_ip_10.0.0.1" in key for key in keys)
    assert any("throttle_login_email_" in key for key in keys)
    assert not any(user.email in key for key in keys)


def test_token_refresh_is_not_throttled_by_the_login_limit(logged_in_client, rates):
    rates(login_ip="1/min", login_email="1/min")

    for _ in range(3):
        assert logged_in_client.post("/api/token/refresh/").status_code == 200


def _assert_throttled_hour(response):
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= 3600


def test_limits_fail_open_while_the_cache_redis_is_unreachable(api_client, user, rates, settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    rates(login_email="1/min")
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port}/0"}
    }
    body = {"email": user.email, "password": "Sturdy-Passw0rd!"}

    answers = [_post(api_client, "/api/login/", body).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
