"""Shared fixtures: real PostgreSQL (pytest-django's test database), real Redis, locmem email, and
a real S3-compatible store (SeaweedFS) for the tests that run with MEDIA_STORAGE=s3."""

import uuid

import django_rq
import pytest
from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.support.objectstore import seaweed_store

PASSWORD = "Sturdy-Passw0rd!"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes media into its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _upload_dir(settings, tmp_path):
    """Resumable uploads go to the test's own folder (outside its MEDIA_ROOT, as in production)."""
    settings.VIDEO_UPLOAD_DIR = tmp_path / "uploads"
    return settings.VIDEO_UPLOAD_DIR


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests run without collectstatic, so static URLs are not looked up in a manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _clean_redis():
    """Empty the test Redis databases (cache and queues) around every test."""
    get_redis_connection("default").flushdb()
    django_rq.get_connection("default").flushdb()
    yield
    cache.clear()
    django_rq.get_connection("default").flushdb()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def staff_user(db):
    return UserFactory(password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, staff_user):
    """Django's test client logged in as `staff_user` (a superuser)."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def bearer_client(user):
    """An API client authenticated with a Bearer access token for `user`."""
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture(scope="session")
def seaweed():
    """One SeaweedFS for the whole session, started on first use and stopped at its end."""
    with seaweed_store() as store:
        yield store


@pytest.fixture
def s3_media(settings, seaweed):
    """This test runs with MEDIA_STORAGE=s3 on a bucket of its own (so tests never see each
    other's objects); yields the store, with `.bucket` set."""
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    seaweed.client().create_bucket(Bucket=bucket)
    for name, value in seaweed.env(bucket).items():
        setattr(settings, name, value)
    settings.AWS_S3_CUSTOM_DOMAIN = None
    settings.AWS_S3_URL_PROTOCOL = "http:"
    # Set last: changing STORAGES makes Django build the default storage again, with the above.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    seaweed.bucket = bucket
    yield seaweed
