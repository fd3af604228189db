import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_the_custom_user_is_the_auth_user_model():
    assert User._meta.label == "authentication.User"
    assert User.USERNAME_FIELD == "email"


def test_create_user_normalises_the_email_and_starts_inactive():
    user = User.objects.create_user(email="  Mixed.Case@Example.COM ", password="Sturdy-Passw0rd!")

    assert user.email == "mixed.case@example.com"
    assert user.username == "mixed.case@example.com"
    assert user.is_active is False
    assert user.is_staff is False
    assert user.check_password("Sturdy-Passw0rd!")


def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email address is required"):
        User.objects.create_user(email="", password="x")


def test_the_email_is_unique_regardless_of_case():
    User.objects.create_user(email="viewer@example.com")

    with pytest.raises(IntegrityError):
        User.objects.create(email="Viewer@Example.com")


def test_create_superuser_is_active_staff_and_counts_as_activated():
    admin = User.objects.create_superuser(email="Admin@Example.com", password="Sturdy-Passw0rd!")

    assert admin.email == "admin@example.com"
    assert admin.is_active and admin.is_staff and admin.is_superuser
    assert admin.activated_at is not None


def test_natural_key_lookup_ignores_case():
    user = User.objects.create_user(email="viewer@example.com")

    assert User.objects.get_by_natural_key("VIEWER@example.com") == user
