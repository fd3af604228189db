import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from tests.authentication.conftest import link_in, outbox_to, uid_and_token
from tests.factories import UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_register_creates_an_inactive_account_and_answers_201_with_id_and_email(register):
    response = register("new.viewer@example.com")

    assert response.status_code == 201
    user = User.objects.get(email="new.viewer@example.com")
    assert response.json() == {"user": {"id": user.pk, "email": "new.viewer@example.com"}}
    assert user.is_active is False
    assert user.activated_at is None
    assert user.check_password("Sturdy-Passw0rd!")


def test_register_response_never_contains_the_activation_token(register, run_email_jobs):
    response = register("new.viewer@example.com")
    run_email_jobs()

    _, token = uid_and_token(link_in(mail.outbox[0]))
    assert token not in response.content.decode()
    assert "token" not in response.json()["user"]


def test_register_normalises_the_email_address(register):
    response = register("  New.Viewer@Example.COM ")

    assert response.status_code == 201
    assert response.json()["user"]["email"] == "new.viewer@example.com"
    assert User.objects.filter(email="new.viewer@example.com").count() == 1


def test_register_with_invalid_email_returns_a_field_error(register):
    response = register("not-an-email")

    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["email"] == ["Enter a valid email address."]
    assert body["detail"]
    assert not User.objects.exists()


def test_register_with_weak_password_returns_readable_password_errors(register):
    response = register("new.viewer@example.com", pw="12345678")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "This password is too common." in errors["password"]
    assert "This password is entirely numeric." in errors["password"]
    assert not User.objects.exists()


def test_register_with_password_like_the_email_is_refused(register):
    response = register("marvellous.viewer@example.com", pw="marvellous.viewer")

    assert response.status_code == 400
    assert any("too similar" in message for message in response.json()["errors"]["password"])


def test_register_with_mismatched_passwords_returns_a_confirmed_password_error(register):
    response = register("new.viewer@example.com", confirmed="Another-Passw0rd!")

    assert response.status_code == 400
    assert response.json()["errors"] == {"confirmed_password": ["The passwords do not match."]}
    assert not User.objects.exists()


def test_register_with_missing_fields_lists_each_missing_field(api_client):
    response = api_client.post("/api/register/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email", "password", "confirmed_password"}
    assert response.json()["errors"]["email"] == ["This field is required."]


def test_register_keeps_passwords_exactly_as_typed(register, client):
    response = register("new.viewer@example.com", pw=" Sturdy-Passw0rd! ")

    assert response.status_code == 201
    user = User.objects.get(email="new.viewer@example.com")
    assert user.check_password(" Sturdy-Passw0rd! ")
    assert not user.check_password("Sturdy-Passw0rd!")


def test_register_queues_the_activation_email_and_the_worker_sends_it(register, run_email_jobs):
    register("new.viewer@example.com")
    assert mail.outbox == []

    assert run_email_jobs() == 1

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.viewer@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert link_in(message).startswith(settings.FRONTEND_URL + settings.EMAIL_VERIFICATION_PATH + "?uid=")


def test_register_with_a_known_address_answers_like_a_new_one(register, run_email_jobs, user):
    known = register(user.email)
    unknown = register("nobody.yet@example.com")

    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json()) == {"user"}
    assert set(known.json()["user"]) == set(unknown.json()["user"]) == {"id", "email"}
    assert known.json()["user"]["email"] == user.email
    # The id is a fresh one, as for a new account: it does not give the existing account away.
    assert known.json()["user"]["id"] != user.pk
    assert known.json()["user"]["id"] < unknown.json()["user"]["id"]
    assert User.objects.filter(email=user.email).count() == 1


def test_register_with_a_known_active_address_emails_the_owner_instead(register, run_email_jobs, user):
    register(user.email.upper(), pw="Another-Passw0rd!")
    run_email_jobs()

    [message] = outbox_to(user.email)
    assert message.subject == "You already have a Videoflix account"
    assert "?uid=" not in message.body
    user.refresh_from_db()
    assert user.check_password("Sturdy-Passw0rd!")
    assert user.is_active


def test_register_again_while_inactive_never_changes_the_password_or_the_account(
    register, run_email_jobs, api_client, password
):
    register("late.viewer@example.com")
    run_email_jobs()
    before = User.objects.values().get(email="late.viewer@example.com")

    response = register("late.viewer@example.com", pw="Strangers-Passw0rd!")
    run_email_jobs()

    assert response.status_code == 201
    assert User.objects.values().get(email="late.viewer@example.com") == before
    _first, second = outbox_to("late.viewer@example.com")
    uid, token = uid_and_token(link_in(second))
    assert api_client.get(f"/api/activate/{uid}/{token}/").status_code == 200
    stranger = {"email": "late.viewer@example.com", "password": "Strangers-Passw0rd!"}
    assert api_client.post("/api/login/", stranger, format="json").status_code == 400
    owner = {"email": "late.viewer@example.com", "password": password}
    assert api_client.post("/api/login/", owner, format="json").status_code == 200


def test_the_email_for_a_repeated_registration_activates_and_points_to_the_password_reset(
    register, run_email_jobs
):
    register("late.viewer@example.com")
    register("late.viewer@example.com", pw="Strangers-Passw0rd!")
    run_email_jobs()

    first, second = outbox_to("late.viewer@example.com")
    assert "Forgot password?" not in first.body
    assert "Forgot password?" in second.body
    assert "password chosen at the first registration still applies" in second.body
    html = second.alternatives[0][0]
    assert "Forgot password?" in html and "?uid=" in html


def test_register_for_a_deactivated_account_sends_nothing_and_keeps_it_inactive(register, run_email_jobs):
    banned = UserFactory(email="banned@example.com", is_active=False, activated_at=timezone.now())

    response = register("banned@example.com")
    run_email_jobs()

    assert response.status_code == 201
    assert mail.outbox == []
    banned.refresh_from_db()
    assert banned.is_active is False
    assert banned.check_password("Sturdy-Passw0rd!")


def test_register_does_not_need_a_csrf_token_even_with_an_old_access_cookie(register, csrf_client):
    csrf_client.cookies["access_token"] = "expired-or-garbage"

    response = register("new.viewer@example.com", client=csrf_client)

    assert response.status_code == 201
