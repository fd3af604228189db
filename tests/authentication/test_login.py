import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

GENERIC = {
    "detail": "The email address or password is incorrect, or the account has not been activated yet.",
    "errors": {},
}


def _login(client, email, password):
    return client.post("/api/login/", {"email": email, "password": password}, format="json")


def test_login_answers_the_contract_body(api_client, user, password):
    response = _login(api_client, user.email, password)

    assert response.status_code == 200
    body = response.json()
    assert body["detail"] == "Login successful"
    assert body["user"]["id"] == user.pk
    assert body["user"]["username"] == user.email
    assert "access" not in body and "refresh" not in body


def test_login_sets_httponly_jwt_cookies_and_a_readable_csrf_cookie(api_client, user, password):
    response = _login(api_client, user.email, password)

    cookies = response.cookies
    access, refresh, csrf = cookies["access_token"], cookies["refresh_token"], cookies["csrftoken"]
    assert AccessToken(access.value)["user_id"] == str(user.pk)
    assert RefreshToken(refresh.value)["user_id"] == str(user.pk)
    for cookie in (access, refresh):
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert not cookie["secure"]
    assert access["max-age"] == 3600
    assert refresh["max-age"] == 7 * 24 * 3600
    assert csrf.value
    assert not csrf["httponly"]


def test_login_cookies_live_exactly_as_long_as_their_tokens(api_client, user, password):
    response = _login(api_client, user.email, password)

    for name, token_class in (("access_token", AccessToken), ("refresh_token", RefreshToken)):
        token = token_class(response.cookies[name].value)
        assert response.cookies[name]["max-age"] == token["exp"] - token["iat"]


def test_login_cookies_are_secure_and_samesite_as_configured(api_client, user, password, settings):
    settings.JWT_COOKIE_SECURE = True
    settings.JWT_COOKIE_SAMESITE = "Strict"

    response = _login(api_client, user.email, password)

    for name in ("access_token", "refresh_token"):
        assert response.cookies[name]["secure"] is True
        assert response.cookies[name]["samesite"] == "Strict"


def test_login_with_a_wrong_password_returns_the_generic_400(api_client, user):
    response = _login(api_client, user.email, "Wrong-Passw0rd!")

    assert response.status_code == 400
    assert response.json() == GENERIC
    assert "access_token" not in response.cookies


def test_login_answers_alike_for_unknown_email_wrong_password_and_inactive_account(
    api_client, user, inactive_user, password
):
    unknown = _login(api_client, "nobody@example.com", password)
    wrong_password = _login(api_client, user.email, "Wrong-Passw0rd!")
    inactive = _login(api_client, inactive_user.email, password)

    assert unknown.status_code == wrong_password.status_code == inactive.status_code == 400
    assert unknown.json() == wrong_password.json() == inactive.json() == GENERIC
    assert unknown.content == wrong_password.content == inactive.content


def test_login_with_the_email_in_other_case_succeeds(api_client, user, password):
    response = _login(api_client, f"  {user.email.upper()} ", password)

    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.pk


def test_login_records_the_last_login(api_client, user, password):
    assert user.last_login is None

    _login(api_client, user.email, password)

    user.refresh_from_db()
    assert user.last_login is not None


def test_login_with_missing_fields_returns_field_errors(api_client):
    response = api_client.post("/api/login/", {"email": "viewer@example.com"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"password": ["This field is required."]}


def test_login_with_malformed_json_returns_400_json(api_client):
    response = api_client.post("/api/login/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"detail", "errors"}


def test_login_succeeds_with_a_stale_access_cookie_and_without_csrf(csrf_client, user, password):
    csrf_client.cookies["access_token"] = "stale.or.garbage"

    response = _login(csrf_client, user.email, password)

    assert response.status_code == 200


def test_login_of_a_deactivated_staff_user_is_refused(api_client, password):
    staff = UserFactory(password=password, is_staff=True, is_active=False)

    response = _login(api_client, staff.email, password)

    assert response.status_code == 400
    assert response.json() == GENERIC
