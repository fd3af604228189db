import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db

LOGGED_OUT = {"detail": "Logout successful! All tokens will be deleted. Refresh token is now invalid."}


def _csrf_header(client) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def test_logout_with_cookies_and_csrf_header_blacklists_and_deletes_both_cookies(logged_in_client):
    refresh = logged_in_client.cookies["refresh_token"].value

    response = logged_in_client.post("/api/logout/", **_csrf_header(logged_in_client))

    assert response.status_code == 200
    assert response.json() == LOGGED_OUT
    for name in ("access_token", "refresh_token"):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
        assert response.cookies[name]["path"] == "/"
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(refresh, verify=False)["jti"]).exists()


def test_refresh_after_logout_fails(logged_in_client, api_client):
    refresh = logged_in_client.cookies["refresh_token"].value
    logged_in_client.post("/api/logout/", **_csrf_header(logged_in_client))

    api_client.cookies["refresh_token"] = refresh
    response = api_client.post("/api/token/refresh/")

    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_logout_without_a_refresh_cookie_returns_400(csrf_client):
    response = csrf_client.post("/api/logout/")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("No refresh token was sent")


def test_logout_with_cookies_but_no_csrf_token_is_refused_and_keeps_the_session(logged_in_client, api_client):
    refresh = logged_in_client.cookies["refresh_token"].value

    response = logged_in_client.post("/api/logout/")

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF check failed")
    assert "refresh_token" not in response.cookies
    api_client.cookies["refresh_token"] = refresh
    assert api_client.post("/api/token/refresh/").status_code == 200


def test_logout_with_a_wrong_csrf_token_is_refused(logged_in_client):
    response = logged_in_client.post("/api/logout/", HTTP_X_CSRFTOKEN="x" * 64)

    assert response.status_code == 403
    assert not BlacklistedToken.objects.exists()


def test_logout_with_the_refresh_token_in_the_body_needs_no_csrf(csrf_client, user):
    refresh = RefreshToken.for_user(user)

    response = csrf_client.post("/api/logout/", {"refresh": str(refresh)}, format="json")

    assert response.status_code == 200
    assert response.json() == LOGGED_OUT
    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).exists()


def test_logout_with_an_already_dead_refresh_cookie_still_clears_the_cookies(logged_in_client):
    header = _csrf_header(logged_in_client)
    assert logged_in_client.post("/api/logout/", **header).status_code == 200
    logged_in_client.cookies["refresh_token"] = "not-a-token"

    response = logged_in_client.post("/api/logout/", **header)

    assert response.status_code == 200
    assert response.cookies["refresh_token"]["max-age"] == 0
