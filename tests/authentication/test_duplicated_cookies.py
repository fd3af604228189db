"""A Cookie header naming access_token or refresh_token twice is refused with 401, everywhere."""

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.authentication.protected_urls")]

URL = "/api/test-whoami/"


def _assert_refused(response):
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert "more than one access_token or refresh_token cookie" in body["detail"]


@pytest.fixture
def pair(user):
    refresh = RefreshToken.for_user(user)
    return str(refresh.access_token), str(refresh)


@pytest.mark.parametrize(
    "cookie_header",
    [
        "access_token=; access_token={access}",
        "access_token={access}; access_token=letmein",
        "access_token={access};access_token={access}",
        " access_token = {access} ; csrftoken=x; access_token=",
    ],
)
def test_a_protected_endpoint_refuses_two_access_cookies(api_client, pair, cookie_header):
    response = api_client.get(URL, HTTP_COOKIE=cookie_header.format(access=pair[0]))

    _assert_refused(response)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_video_catalogue_refuses_two_access_cookies(api_client, pair):
    _assert_refused(api_client.get("/api/video/", HTTP_COOKIE=f"access_token=; access_token={pair[0]}"))


def test_one_access_cookie_with_other_cookies_is_accepted(api_client, pair, user):
    response = api_client.get(URL, HTTP_COOKIE=f"csrftoken=x; access_token={pair[0]}; theme=dark")

    assert response.status_code == 200
    assert response.json() == {"id": user.pk}


def test_duplicated_cookies_are_refused_even_with_a_bearer_header(api_client, pair):
    response = api_client.get(
        URL, HTTP_AUTHORIZATION=f"Bearer {pair[0]}", HTTP_COOKIE=f"access_token=x; access_token={pair[0]}"
    )

    _assert_refused(response)


def test_refresh_refuses_two_refresh_cookies(api_client, pair):
    response = api_client.post("/api/token/refresh/", HTTP_COOKIE=f"refresh_token=x; refresh_token={pair[1]}")

    _assert_refused(response)


def test_logout_refuses_two_refresh_cookies_and_blacklists_nothing(api_client, pair):
    response = api_client.post("/api/logout/", HTTP_COOKIE=f"refresh_token={pair[1]}; refresh_token=x")

    _assert_refused(response)
    assert api_client.post("/api/token/refresh/", {"refresh": pair[1]}, format="json").status_code == 200


def test_refresh_with_the_token_in_the_body_still_refuses_two_refresh_cookies(api_client, pair):
    response = api_client.post(
        "/api/token/refresh/",
        {"refresh": pair[1]},
        format="json",
        HTTP_COOKIE="refresh_token=a; refresh_token=b",
    )

    _assert_refused(response)
