from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from authentication.tokens import account_activation_token, password_reset_token
from tests.authentication.conftest import link_in, uid_and_token
from tests.factories import UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

INVALID = "This activation link is invalid, has already been used or has expired."


def _uid(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def _assert_invalid_link(response):
    assert response.status_code == 400
    assert response.json() == {"message": INVALID, "detail": INVALID, "errors": {}}


def test_activation_link_opens_the_spa_page_and_activates_the_account(register, run_email_jobs, api_client):
    register("new.viewer@example.com")
    run_email_jobs()
    link = link_in(mail.outbox[0])

    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == settings.FRONTEND_URL
    assert parts.path == settings.EMAIL_VERIFICATION_PATH == "/pages/auth/activate.html"
    uid, token = uid_and_token(link)
    response = api_client.get(f"/api/activate/{uid}/{token}/")

    assert response.status_code == 200
    assert response.json() == {"message": "Account successfully activated."}
    user = User.objects.get(email="new.viewer@example.com")
    assert user.is_active
    assert user.activated_at is not None


def test_activation_link_works_only_once(register, run_email_jobs, api_client):
    register("new.viewer@example.com")
    run_email_jobs()
    uid, token = uid_and_token(link_in(mail.outbox[0]))

    assert api_client.get(f"/api/activate/{uid}/{token}/").status_code == 200
    _assert_invalid_link(api_client.get(f"/api/activate/{uid}/{token}/"))


def test_activated_then_deactivated_account_cannot_be_reactivated_with_its_old_link(
    register, run_email_jobs, api_client
):
    register("new.viewer@example.com")
    run_email_jobs()
    uid, token = uid_and_token(link_in(mail.outbox[0]))
    assert api_client.get(f"/api/activate/{uid}/{token}/").status_code == 200
    User.objects.filter(email="new.viewer@example.com").update(is_active=False)

    _assert_invalid_link(api_client.get(f"/api/activate/{uid}/{token}/"))
    assert User.objects.get(email="new.viewer@example.com").is_active is False


def test_activation_with_a_tampered_token_returns_400_with_a_message(inactive_user, api_client):
    token = account_activation_token.make_token(inactive_user)
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")

    _assert_invalid_link(api_client.get(f"/api/activate/{_uid(inactive_user)}/{tampered}/"))
    inactive_user.refresh_from_db()
    assert inactive_user.is_active is False


def test_activation_with_another_users_token_returns_400(inactive_user, api_client):
    other = UserFactory(is_active=False)
    token_for_other = account_activation_token.make_token(other)

    _assert_invalid_link(api_client.get(f"/api/activate/{_uid(inactive_user)}/{token_for_other}/"))
    assert not User.objects.filter(pk__in=[inactive_user.pk, other.pk], is_active=True).exists()


@pytest.mark.parametrize("uid", ["garbage", "MA", "LTE", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ"])
def test_activation_with_a_malformed_or_unknown_uid_returns_400(inactive_user, api_client, uid):
    token = account_activation_token.make_token(inactive_user)

    _assert_invalid_link(api_client.get(f"/api/activate/{uid}/{token}/"))


@pytest.mark.parametrize("token", ["nonsense", "a-b-c", "zzzzzzzzzzzzzzzzzzzzzz-abc", "-"])
def test_activation_with_a_malformed_token_returns_400(inactive_user, api_client, token):
    _assert_invalid_link(api_client.get(f"/api/activate/{_uid(inactive_user)}/{token}/"))


def test_activation_link_expires_after_account_activation_timeout(inactive_user, api_client, settings):
    settings.ACCOUNT_ACTIVATION_TIMEOUT = 3600
    generator = account_activation_token
    issued = generator._num_seconds(generator._now()) - 3601
    old_token = generator._make_token_with_timestamp(inactive_user, issued, generator.secret)

    _assert_invalid_link(api_client.get(f"/api/activate/{_uid(inactive_user)}/{old_token}/"))

    fresh = generator._make_token_with_timestamp(inactive_user, issued + 2, generator.secret)
    assert api_client.get(f"/api/activate/{_uid(inactive_user)}/{fresh}/").status_code == 200


def test_a_password_reset_token_does_not_activate_an_account(inactive_user, api_client):
    reset_token = password_reset_token.make_token(inactive_user)

    _assert_invalid_link(api_client.get(f"/api/activate/{_uid(inactive_user)}/{reset_token}/"))


def test_activated_account_can_log_in(register, run_email_jobs, api_client, password):
    register("new.viewer@example.com")
    run_email_jobs()
    uid, token = uid_and_token(link_in(mail.outbox[0]))
    credentials = {"email": "new.viewer@example.com", "password": password}
    assert api_client.post("/api/login/", credentials, format="json").status_code == 400

    api_client.get(f"/api/activate/{uid}/{token}/")

    assert api_client.post("/api/login/", credentials, format="json").status_code == 200
