from urllib.parse import urlsplit

import django_rq
import pytest
from django.conf import settings
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from authentication.tokens import account_activation_token, password_reset_token
from tests.authentication.conftest import link_in, uid_and_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SENT = {"detail": "An email has been sent to reset your password."}
DONE = {"detail": "Your Password has been successfully reset."}
INVALID = {
    "detail": "This password reset link is invalid, has already been used or has expired.",
    "errors": {},
}
NEW_PASSWORD = "Brand-New-Passw0rd!"


@pytest.fixture
def request_reset(api_client, django_capture_on_commit_callbacks):
    def post(email):
        with django_capture_on_commit_callbacks(execute=True):
            return api_client.post("/api/password_reset/", {"email": email}, format="json")

    return post


def _confirm(client, uid, token, new=NEW_PASSWORD, confirm=None):
    body = {"new_password": new, "confirm_password": new if confirm is None else confirm}
    return client.post(f"/api/password_confirm/{uid}/{token}/", body, format="json")


def _uid(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def test_password_reset_answers_identically_for_known_and_unknown_addresses(
    request_reset, run_email_jobs, user
):
    known = request_reset(user.email)
    unknown = request_reset("nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == SENT
    assert known.content == unknown.content
    run_email_jobs()
    assert [message.to for message in mail.outbox] == [[user.email]]


def test_password_reset_link_opens_the_spa_page_and_sets_the_new_password_once(
    request_reset, run_email_jobs, api_client, user, password
):
    request_reset(user.email.upper())
    run_email_jobs()
    link = link_in(mail.outbox[0])
    parts = urlsplit(link)
    page = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert page == settings.FRONTEND_URL + settings.PASSWORD_RESET_PATH
    assert parts.path == "/pages/auth/confirm_password.html"
    uid, token = uid_and_token(link)

    response = _confirm(api_client, uid, token)

    assert response.status_code == 200
    assert response.json() == DONE
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    login = {"email": user.email, "password": password}
    assert api_client.post("/api/login/", login, format="json").status_code == 400
    login["password"] = NEW_PASSWORD
    assert api_client.post("/api/login/", login, format="json").status_code == 200
    again = _confirm(api_client, uid, token, new="Yet-Another-Passw0rd!")
    assert again.status_code == 400
    assert again.json() == INVALID


def test_password_reset_with_a_malformed_email_returns_400(request_reset):
    response = request_reset("not-an-email")

    assert response.status_code == 400
    assert response.json()["errors"] == {"email": ["Enter a valid email address."]}


def test_password_reset_without_a_body_returns_400(api_client):
    response = api_client.post("/api/password_reset/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"email": ["This field is required."]}


def test_password_reset_for_an_inactive_account_sends_nothing(request_reset, run_email_jobs, inactive_user):
    response = request_reset(inactive_user.email)

    assert response.json() == SENT
    assert run_email_jobs() == 1  # The job looks the address up, and sends nothing.
    assert mail.outbox == []


def test_password_confirm_with_mismatched_passwords_returns_a_field_error(api_client, user, password):
    token = password_reset_token.make_token(user)

    response = _confirm(api_client, _uid(user), token, confirm="Other-Passw0rd!")

    assert response.status_code == 400
    assert response.json()["errors"] == {"confirm_password": ["The passwords do not match."]}
    user.refresh_from_db()
    assert user.check_password(password)


def test_password_confirm_with_a_weak_password_returns_readable_errors(api_client, user, password):
    token = password_reset_token.make_token(user)

    response = _confirm(api_client, _uid(user), token, new="password")

    assert response.status_code == 400
    assert "This password is too common." in response.json()["errors"]["new_password"]
    user.refresh_from_db()
    assert user.check_password(password)
    # The link still works for a better password.
    assert _confirm(api_client, _uid(user), token).status_code == 200


def test_password_confirm_with_a_tampered_token_returns_400(api_client, user, password):
    token = password_reset_token.make_token(user)

    response = _confirm(api_client, _uid(user), token[:-2] + "zz")

    assert response.status_code == 400
    assert response.json() == INVALID
    user.refresh_from_db()
    assert user.check_password(password)


def test_password_confirm_with_another_users_link_returns_400(api_client, user):
    other = UserFactory()

    response = _confirm(api_client, _uid(user), password_reset_token.make_token(other))

    assert response.json() == INVALID


@pytest.mark.parametrize("uid", ["garbage", "MA", "LTE"])
def test_password_confirm_with_a_malformed_uid_returns_400(api_client, user, uid):
    response = _confirm(api_client, uid, password_reset_token.make_token(user))

    assert response.status_code == 400
    assert response.json() == INVALID


def test_password_reset_link_expires_after_password_reset_timeout(api_client, user, settings):
    settings.PASSWORD_RESET_TIMEOUT = 600
    issued = password_reset_token._num_seconds(password_reset_token._now()) - 601
    old_token = password_reset_token._make_token_with_timestamp(user, issued, password_reset_token.secret)

    response = _confirm(api_client, _uid(user), old_token)

    assert response.json() == INVALID


def test_an_activation_token_is_not_a_password_reset_token(api_client, user):
    response = _confirm(api_client, _uid(user), account_activation_token.make_token(user))

    assert response.json() == INVALID


def test_password_reset_logs_the_account_out_everywhere(api_client, user):
    sessions = [RefreshToken.for_user(user) for _ in range(2)]

    assert _confirm(api_client, _uid(user), password_reset_token.make_token(user)).status_code == 200

    assert BlacklistedToken.objects.filter(token__user=user).count() == 2
    for refresh in sessions:
        response = api_client.post("/api/token/refresh/", {"refresh": str(refresh)}, format="json")
        assert response.status_code == 401


def test_password_endpoints_need_no_csrf_token(csrf_client, user, django_capture_on_commit_callbacks):
    csrf_client.cookies["access_token"] = "stale"
    with django_capture_on_commit_callbacks(execute=True):
        reset = csrf_client.post("/api/password_reset/", {"email": user.email}, format="json")
    confirm = _confirm(csrf_client, _uid(user), password_reset_token.make_token(user))

    assert reset.status_code == 200
    assert confirm.status_code == 200


def test_password_reset_request_does_no_query_and_leaves_the_lookup_to_the_job(
    api_client, user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for email in (user.email, "nobody@example.com"):
        with django_assert_num_queries(0), django_capture_on_commit_callbacks(execute=True):
            response = api_client.post("/api/password_reset/", {"email": email}, format="json")
        assert response.json() == SENT

    jobs = django_rq.get_queue("default").get_jobs()
    assert [job.func_name for job in jobs] == ["authentication.tasks.send_password_reset_email"] * 2
    assert [job.args for job in jobs] == [(user.email,), ("nobody@example.com",)]
