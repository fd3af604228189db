import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.factories import UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/authentication/user/"


def _listed_emails(response) -> set[str]:
    return {user.email for user in response.context["cl"].result_list}


def test_admin_lists_users_and_searches_by_email(admin_client):
    UserFactory(email="alice@example.com")
    UserFactory(email="bob@example.com")

    everyone = admin_client.get(CHANGELIST)
    found = admin_client.get(CHANGELIST, {"q": "ALICE@"})

    assert everyone.status_code == 200
    assert {"alice@example.com", "bob@example.com"} <= _listed_emails(everyone)
    assert _listed_emails(found) == {"alice@example.com"}


def test_admin_filters_by_active_and_staff(admin_client, staff_user):
    UserFactory(email="active@example.com")
    UserFactory(email="waiting@example.com", is_active=False)

    inactive = admin_client.get(CHANGELIST, {"is_active__exact": "0"})
    staff = admin_client.get(CHANGELIST, {"is_staff__exact": "1"})

    assert _listed_emails(inactive) == {"waiting@example.com"}
    assert _listed_emails(staff) == {staff_user.email}


def test_admin_action_activates_the_selected_users(admin_client):
    waiting = UserFactory(is_active=False)
    other = UserFactory(is_active=False)

    response = admin_client.post(
        CHANGELIST, {"action": "activate_users", "_selected_action": [waiting.pk]}, follow=True
    )

    assert response.status_code == 200
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.is_active
    assert waiting.activated_at is not None
    assert not other.is_active
    assert "Activated 1 user(s)." in [str(message) for message in response.context["messages"]]


def test_admin_action_resends_activation_only_to_never_activated_users(
    admin_client, run_email_jobs, django_capture_on_commit_callbacks
):
    from django.core import mail

    waiting = UserFactory(is_active=False)
    active = UserFactory()
    banned = UserFactory(is_active=False, activated_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            CHANGELIST,
            {"action": "resend_activation_email", "_selected_action": [waiting.pk, active.pk, banned.pk]},
        )

    assert django_rq.get_queue("default").count == 1
    run_email_jobs()
    assert [message.to for message in mail.outbox] == [[waiting.email]]


def test_admin_add_form_creates_a_user_with_a_normalised_unique_email(admin_client):
    UserFactory(email="taken@example.com")
    form = {"email": " Fresh@Example.COM ", "usable_password": "true"}
    form |= {"password1": "Sturdy-Passw0rd!", "password2": "Sturdy-Passw0rd!"}

    created = admin_client.post(f"{CHANGELIST}add/", form)
    duplicate = admin_client.post(f"{CHANGELIST}add/", {**form, "email": "TAKEN@example.com"})

    assert created.status_code == 302
    assert User.objects.get(email="fresh@example.com").check_password("Sturdy-Passw0rd!")
    assert duplicate.status_code == 200
    assert "An account with this email address already exists." in duplicate.content.decode()
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_admin_change_page_opens(admin_client, user):
    response = admin_client.get(f"{CHANGELIST}{user.pk}/change/")

    assert response.status_code == 200
    assert user.email in response.content.decode()
