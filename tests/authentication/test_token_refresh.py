from datetime import timedelta

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = pytest.mark.django_db

INVALID = {"detail": "Your session has expired or is no longer valid. Please log in again.", "errors": {}}


def _assert_401(response):
    assert response.status_code == 401
    assert response.json() == INVALID
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_refresh_with_the_cookie_answers_the_contract_and_resets_the_cookies(logged_in_client, user):
    old_refresh = logged_in_client.cookies["refresh_token"].value

    response = logged_in_client.post("/api/token/refresh/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"detail", "access"}
    assert body["detail"] == "Token refreshed"
    assert AccessToken(body["access"])["user_id"] == str(user.pk)
    assert response.cookies["access_token"].value == body["access"]
    assert response.cookies["access_token"]["httponly"] is True
    new_refresh = response.cookies["refresh_token"].value
    assert new_refresh != old_refresh
    assert response.cookies["refresh_token"]["httponly"] is True
    assert RefreshToken(new_refresh)["user_id"] == str(user.pk)


def test_refresh_needs_no_csrf_token(logged_in_client):
    # The SPA refreshes with an empty body and no X-CSRFToken header.
    response = logged_in_client.post("/api/token/refresh/", content_type="application/json")

    assert response.status_code == 200


def test_refresh_rotation_makes_the_old_refresh_token_unusable(logged_in_client, api_client):
    old_refresh = logged_in_client.cookies["refresh_token"].value
    assert logged_in_client.post("/api/token/refresh/").status_code == 200

    api_client.cookies["refresh_token"] = old_refresh
    _assert_401(api_client.post("/api/token/refresh/"))
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(old_refresh, verify=False)["jti"]).exists()


def test_the_rotated_refresh_token_works_in_turn(logged_in_client):
    assert logged_in_client.post("/api/token/refresh/").status_code == 200

    assert logged_in_client.post("/api/token/refresh/").status_code == 200
    assert BlacklistedToken.objects.count() == 2
    assert OutstandingToken.objects.count() == 3


def test_refresh_without_a_cookie_or_body_returns_400(api_client):
    response = api_client.post("/api/token/refresh/")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("No refresh token was sent")


@pytest.mark.parametrize("value", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
def test_refresh_with_a_malformed_cookie_returns_401_json_with_www_authenticate(api_client, value):
    api_client.cookies["refresh_token"] = value

    _assert_401(api_client.post("/api/token/refresh/"))


def test_refresh_with_an_expired_refresh_token_returns_401(api_client, user):
    refresh = RefreshToken.for_user(user)
    refresh.set_exp(from_time=refresh.current_time - timedelta(days=8))
    api_client.cookies["refresh_token"] = str(refresh)

    _assert_401(api_client.post("/api/token/refresh/"))


def test_refresh_with_an_access_token_instead_returns_401(api_client, user):
    api_client.cookies["refresh_token"] = str(RefreshToken.for_user(user).access_token)

    _assert_401(api_client.post("/api/token/refresh/"))


def test_refresh_for_a_deactivated_user_returns_401(logged_in_client, user):
    user.is_active = False
    user.save()

    _assert_401(logged_in_client.post("/api/token/refresh/"))


def test_refresh_for_a_deleted_user_returns_401(logged_in_client, user):
    user.delete()

    _assert_401(logged_in_client.post("/api/token/refresh/"))


def test_refresh_with_the_token_in_the_body_returns_a_new_pair_and_sets_no_cookies(api_client, user):
    refresh = RefreshToken.for_user(user)

    response = api_client.post("/api/token/refresh/", {"refresh": str(refresh)}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"detail", "access", "refresh"}
    assert AccessToken(body["access"])["user_id"] == str(user.pk)
    assert RefreshToken(body["refresh"])["jti"] != refresh["jti"]
    assert "access_token" not in response.cookies
    again = api_client.post("/api/token/refresh/", {"refresh": str(refresh)}, format="json")
    _assert_401(again)


def test_refresh_body_token_takes_precedence_over_the_cookie(api_client, user):
    api_client.cookies["refresh_token"] = "garbage"

    response = api_client.post(
        "/api/token/refresh/", {"refresh": str(RefreshToken.for_user(user))}, format="json"
    )

    assert response.status_code == 200
