"""One canonical form of an address for storing, looking up and keying limits (NFKC, lower case)."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from authentication import throttles
from tests.factories import UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_a_dotless_i_address_does_not_log_in_as_the_plain_i_account(api_client, password):
    UserFactory(email="alice@example.com", password=password)

    response = api_client.post(
        "/api/login/", {"email": "al\u0131ce@example.com", "password": password}, format="json"
    )

    assert response.status_code == 400


def test_compatibility_characters_fold_to_the_plain_address(api_client, password):
    user = UserFactory(email="kate@example.com", password=password)

    # U+212A KELVIN SIGN passes Django's email validator and folds to "k".
    response = api_client.post(
        "/api/login/", {"email": "\u212aate@example.com", "password": password}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.pk


def test_storing_lookup_and_limits_use_the_same_form():
    stored = User.objects.create_user(email="  \uff21lice@Example.COM ", password="x")  # fullwidth A

    assert stored.email == "alice@example.com"
    assert User.objects.get_by_natural_key("ALICE@example.com") == stored
    assert User.objects.filter(email="al\u0131ce@example.com").count() == 0
    assert throttles.email_digest("ALICE@EXAMPLE.COM") == throttles.email_digest(stored.email)
    assert throttles.email_digest("al\u0131ce@example.com") != throttles.email_digest(stored.email)


def test_the_data_migration_rewrites_stored_addresses_into_the_canonical_form():
    migration = importlib.import_module("authentication.migrations.0002_email_canonical_form")
    folded = UserFactory(email="placeholder-1@example.com")
    clash = UserFactory(email="placeholder-2@example.com")
    UserFactory(email="bob@example.com")
    User.objects.filter(pk=folded.pk).update(email="\uff21nn@example.com")
    User.objects.filter(pk=clash.pk).update(email="\uff42ob@example.com")

    migration.emails_to_canonical_form(apps, None)

    assert User.objects.get(pk=folded.pk).email == "ann@example.com"
    assert User.objects.get(pk=clash.pk).email == "\uff42ob@example.com"
