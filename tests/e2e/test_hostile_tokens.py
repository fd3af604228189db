"""Hostile tokens on a protected endpoint: every one is a JSON 401 with WWW-Authenticate."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]

PROTECTED = "/api/video/"


def payload_of(user) -> dict:
    token = AccessToken.for_user(user)
    return dict(token.payload)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_rejected(response):
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]


def forged_tokens(user) -> dict[str, str]:
    payload = payload_of(user)
    expired = payload | {"exp": payload["iat"] - 10}
    return {
        "wrong-signature": jwt.encode(payload, "another-key-" + "x" * 50, algorithm="HS256"),
        "alg-none": b64({"alg": "none", "typ": "JWT"}) + "." + b64(payload) + ".",
        "alg-none-empty-signature-no-dot": b64({"alg": "none", "typ": "JWT"}) + "." + b64(payload),
        "expired": jwt.encode(expired, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256"),
        "refresh-used-as-access": str(RefreshToken.for_user(user)),
        "garbage": "not-a-token",
        "truncated": str(AccessToken.for_user(user))[:-5],
    }


@pytest.mark.parametrize(
    "kind",
    [
        "wrong-signature",
        "alg-none",
        "alg-none-empty-signature-no-dot",
        "expired",
        "refresh-used-as-access",
        "garbage",
        "truncated",
    ],
)
def test_forged_bearer_token_is_rejected(api_client, user, kind):
    token = forged_tokens(user)[kind]
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_rejected(response)


@pytest.mark.parametrize("kind", ["wrong-signature", "alg-none", "expired", "garbage"])
def test_forged_cookie_token_is_rejected(api_client, user, kind):
    api_client.cookies["access_token"] = forged_tokens(user)[kind]
    assert_rejected(api_client.get(PROTECTED))


def test_a_genuine_token_is_accepted(api_client, user):
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert response.status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "Bearer\x00abc"])
def test_malformed_authorization_header_is_rejected(api_client, header):
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_token_of_a_deleted_user_is_rejected(api_client, user):
    token = AccessToken.for_user(user)
    user.delete()
    assert_rejected(api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_token_of_a_deactivated_user_is_rejected(api_client, user):
    token = AccessToken.for_user(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_rejected(api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_token_with_a_lifetime_from_the_settings(user):
    token = AccessToken.for_user(user)
    assert timedelta(seconds=token["exp"] - token["iat"]) == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]


def test_blacklisted_refresh_token_is_rejected_by_refresh(api_client, user):
    refresh = RefreshToken.for_user(user)
    refresh.blacklist()
    response = api_client.post("/api/token/refresh/", {"refresh": str(refresh)}, format="json")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}
