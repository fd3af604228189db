"""Access tokens die at logout (every token of that login) and at a password change (every token)."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from tests.authentication.conftest import link_in, uid_and_token

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.authentication.protected_urls")]

URL = "/api/test-whoami/"
NEW_PASSWORD = "Another-Sturdy-Passw0rd!"


def _login(user, password) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/login/", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200
    return client


def _bearer_get(access: str):
    return APIClient().get(URL, HTTP_AUTHORIZATION=f"Bearer {access}")


def _logout(client):
    response = client.post("/api/logout/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200


def test_logout_kills_the_access_token_of_that_login_at_once(user, password):
    client = _login(user, password)
    access = client.cookies["access_token"].value
    assert _bearer_get(access).status_code == 200

    _logout(client)

    response = _bearer_get(access)
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}


def test_logout_also_kills_access_tokens_issued_by_earlier_refreshes_of_that_login(user, password):
    client = _login(user, password)
    first_access = client.cookies["access_token"].value
    assert client.post("/api/token/refresh/").status_code == 200
    second_access = client.cookies["access_token"].value

    _logout(client)

    assert _bearer_get(first_access).status_code == 401
    assert _bearer_get(second_access).status_code == 401


def test_logout_leaves_the_users_other_logins_working(user, password):
    laptop, phone = _login(user, password), _login(user, password)

    _logout(laptop)

    assert _bearer_get(phone.cookies["access_token"].value).status_code == 200
    assert phone.post("/api/token/refresh/").status_code == 200


def test_bearer_logout_with_the_refresh_token_in_the_body_kills_its_access_token(api_client, user, password):
    pair = api_client.post("/api/token/", {"email": user.email, "password": password}, format="json").json()

    assert api_client.post("/api/logout/", {"refresh": pair["refresh"]}, format="json").status_code == 200

    assert _bearer_get(pair["access"]).status_code == 401


def test_a_password_reset_kills_every_access_token_of_the_user(
    api_client, user, password, run_email_jobs, django_capture_on_commit_callbacks
):
    laptop, phone = _login(user, password), _login(user, password)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/password_reset/", {"email": user.email}, format="json")
    run_email_jobs()
    uid, token = uid_and_token(link_in(mail.outbox[-1]))

    body = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert api_client.post(f"/api/password_confirm/{uid}/{token}/", body, format="json").status_code == 200

    for client in (laptop, phone):
        assert _bearer_get(client.cookies["access_token"].value).status_code == 401
        assert client.get(URL).status_code == 401
    assert _bearer_get(_login(user, NEW_PASSWORD).cookies["access_token"].value).status_code == 200


def test_a_password_changed_by_staff_ends_earlier_access_and_refresh_tokens(user, password):
    client = _login(user, password)
    user.set_password(NEW_PASSWORD)
    user.save()

    assert client.get(URL).status_code == 401
    assert client.post("/api/token/refresh/").status_code == 401
