"""CookieOrBearerJWTAuthentication, through a protected endpoint that uses the project defaults."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.authentication.protected_urls")]

URL = "/api/test-whoami/"
INVALID = {"detail": "Your session has expired or is not valid. Please log in again.", "errors": {}}
GENERIC_LOGIN = {
    "detail": "The email address or password is incorrect, or the account has not been activated yet.",
    "errors": {},
}


def _bearer(token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _assert_rejected(response):
    assert response.status_code == 401
    assert response.json() == INVALID
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_no_credentials_returns_401_json_with_www_authenticate(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "errors": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_bearer_access_token_authenticates(bearer_client, user):
    response = bearer_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"id": user.pk}


def test_access_cookie_authenticates_a_read(logged_in_client, user):
    response = logged_in_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"id": user.pk}


def test_cookie_authenticated_write_without_csrf_token_is_refused(logged_in_client):
    response = logged_in_client.post(URL, {}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == "CSRF check failed: CSRF token missing."


def test_cookie_authenticated_write_with_csrf_token_succeeds(logged_in_client, user):
    token = logged_in_client.cookies["csrftoken"].value

    response = logged_in_client.post(URL, {}, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert response.json() == {"id": user.pk}


def test_bearer_write_needs_no_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(**_bearer(RefreshToken.for_user(user).access_token))

    response = client.post(URL, {}, format="json")

    assert response.status_code == 200


def test_bearer_header_wins_over_the_cookie(logged_in_client):
    other = UserFactory()
    logged_in_client.credentials(**_bearer(RefreshToken.for_user(other).access_token))

    response = logged_in_client.post(URL, {}, format="json")

    assert response.status_code == 200
    assert response.json() == {"id": other.pk}


def test_a_token_signed_with_another_key_is_rejected(api_client, user):
    payload = dict(RefreshToken.for_user(user).access_token.payload)
    forged = jwt.encode(payload, "another-key-that-is-long-enough-for-hs256-0123456789", algorithm="HS256")

    _assert_rejected(api_client.get(URL, **_bearer(forged)))


def test_an_unsigned_alg_none_token_is_rejected(api_client, user):
    payload = dict(RefreshToken.for_user(user).access_token.payload)
    unsigned = jwt.encode(payload, None, algorithm="none")

    _assert_rejected(api_client.get(URL, **_bearer(unsigned)))
    api_client.cookies["access_token"] = unsigned
    _assert_rejected(api_client.get(URL))


def test_an_expired_access_token_is_rejected(api_client, user):
    access = AccessToken.for_user(user)
    access.set_exp(from_time=access.current_time - timedelta(hours=2))

    _assert_rejected(api_client.get(URL, **_bearer(access)))
    api_client.credentials()
    api_client.cookies["access_token"] = str(access)
    _assert_rejected(api_client.get(URL))


def test_a_refresh_token_is_not_accepted_as_an_access_token(api_client, user):
    _assert_rejected(api_client.get(URL, **_bearer(RefreshToken.for_user(user))))


def test_a_deactivated_users_token_is_rejected(bearer_client, user):
    user.is_active = False
    user.save()

    _assert_rejected(bearer_client.get(URL))


def test_a_deleted_users_token_is_rejected(bearer_client, user):
    user.delete()

    _assert_rejected(bearer_client.get(URL))


def test_a_deactivated_users_cookie_is_rejected(logged_in_client, user):
    user.is_active = False
    user.save()

    _assert_rejected(logged_in_client.get(URL))


def test_a_malformed_authorization_header_is_rejected_readably(api_client):
    _assert_rejected(api_client.get(URL, HTTP_AUTHORIZATION="Bearer two parts"))


def test_a_token_with_a_tampered_payload_is_rejected(api_client, user):
    header, _, signature = str(AccessToken.for_user(user)).split(".")
    other = str(AccessToken.for_user(UserFactory())).split(".")[1]

    _assert_rejected(api_client.get(URL, **_bearer(f"{header}.{other}.{signature}")))


def test_token_obtain_returns_a_pair_usable_as_bearer_and_sets_no_cookies(api_client, user, password):
    response = api_client.post("/api/token/", {"email": user.email, "password": password}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert not response.cookies.get("access_token")
    client = APIClient()
    client.credentials(**_bearer(response.json()["access"]))
    assert client.get(URL).json() == {"id": user.pk}
    refreshed = client.post("/api/token/refresh/", {"refresh": response.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200


def test_token_obtain_answers_the_generic_400_like_login(api_client, user, inactive_user, password):
    answers = [
        api_client.post("/api/token/", {"email": email, "password": pw}, format="json")
        for email, pw in (
            (user.email, "Wrong-Passw0rd!"),
            ("nobody@example.com", password),
            (inactive_user.email, password),
        )
    ]

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert all(answer.json() == GENERIC_LOGIN for answer in answers)


def test_access_tokens_use_the_configured_algorithm_and_lifetime(user):
    token = AccessToken.for_user(user)
    header = jwt.get_unverified_header(str(token))

    assert header["alg"] == settings.SIMPLE_JWT["ALGORITHM"] == "HS256"
    assert token["exp"] - token["iat"] == 3600
    assert RefreshToken.for_user(user)["exp"] - RefreshToken.for_user(user)["iat"] == 7 * 24 * 3600
