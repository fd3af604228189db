"""Fixtures for the account tests: a real in-process RQ worker, email links, logged-in clients."""

import re
from urllib.parse import parse_qs, urlsplit

import django_rq
import pytest
from django.core import mail
from rest_framework.test import APIClient
from rq import SimpleWorker

from tests.factories import UserFactory

LINK_PATTERN = re.compile(r"https?://\S+\?uid=\S+")


@pytest.fixture(autouse=True)
def _spa_links(settings):
    """Email links configured for the Videoflix SPA, as its deployment's .env does."""
    settings.FRONTEND_URL = "http://127.0.0.1:5500"
    settings.EMAIL_VERIFICATION_PATH = "/pages/auth/activate.html"
    settings.PASSWORD_RESET_PATH = "/pages/auth/confirm_password.html"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """A cheap hasher keeps these tests quick; the hashing itself is Django's concern."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def run_email_jobs():
    """Run every queued job on the "default" queue, in this process (SimpleWorker does not fork,
    so the jobs see the test's transaction). Returns how many jobs finished."""

    def run() -> int:
        queue = django_rq.get_queue("default")
        finished_before = queue.finished_job_registry.count
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        return queue.finished_job_registry.count - finished_before

    return run


@pytest.fixture
def csrf_client():
    """A client that enforces CSRF checks, as a browser's requests are checked."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def inactive_user(db, password):
    return UserFactory(password=password, is_active=False)


@pytest.fixture
def logged_in_client(csrf_client, user, password):
    """A CSRF-enforcing client holding the cookies a successful login sets."""
    response = csrf_client.post("/api/login/", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200
    return csrf_client


@pytest.fixture
def register(api_client, django_capture_on_commit_callbacks, password):
    """POST /api/register/ like the SPA does, running the on-commit callbacks."""

    def post(email: str, pw: str = password, confirmed: str | None = None, client=None):
        body = {
            "email": email,
            "password": pw,
            "confirmed_password": pw if confirmed is None else confirmed,
            "privacy_policy": "on",
        }
        with django_capture_on_commit_callbacks(execute=True):
            return (client or api_client).post("/api/register/", body, format="json")

    return post


def link_in(message) -> str:
    """The one SPA link in an email's plain-text body."""
    links = LINK_PATTERN.findall(message.body)
    assert len(links) == 1, message.body
    return links[0]


def uid_and_token(link: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(link).query)
    return query["uid"][0], query["token"][0]


def outbox_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]
