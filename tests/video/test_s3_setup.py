"""`manage.py storage_setup` and the storage health check against a real SeaweedFS."""

import uuid

import pytest
from django.core.management import call_command

from video import media_store

pytestmark = pytest.mark.django_db


def test_storage_setup_creates_a_private_bucket_with_cors_and_a_lifecycle_rule_and_is_idempotent(
    s3_media, settings, capsys
):
    settings.AWS_STORAGE_BUCKET_NAME = f"setup-{uuid.uuid4().hex[:12]}"
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:5500"]

    call_command("storage_setup")
    first = capsys.readouterr().out
    call_command("storage_setup")
    second = capsys.readouterr().out

    assert f"Bucket {settings.AWS_STORAGE_BUCKET_NAME}: created." in first
    assert f"Bucket {settings.AWS_STORAGE_BUCKET_NAME}: exists." in second
    assert "Private: unsigned requests are refused." in second
    client = s3_media.client()
    rules = client.get_bucket_cors(Bucket=settings.AWS_STORAGE_BUCKET_NAME)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["http://127.0.0.1:5500"]
    # The admin's uploader sends parts straight to the bucket and reads each part's ETag.
    assert rules[1]["AllowedOrigins"] == ["http://localhost:8000", "http://127.0.0.1:8000"]
    assert set(rules[1]["AllowedMethods"]) == {"GET", "PUT", "POST", "DELETE"}
    assert rules[1]["ExposeHeaders"] == ["ETag"]
    lifecycle = client.get_bucket_lifecycle_configuration(Bucket=settings.AWS_STORAGE_BUCKET_NAME)["Rules"]
    assert lifecycle[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_stale_multipart_uploads_are_aborted(s3_media):
    client = s3_media.client()
    client.create_multipart_upload(Bucket=s3_media.bucket, Key="hls/1/abc/120p/000.ts")
    assert client.list_multipart_uploads(Bucket=s3_media.bucket).get("Uploads")

    assert media_store.multipart_uploads_abort_stale(older_than_seconds=0) == 1

    assert not client.list_multipart_uploads(Bucket=s3_media.bucket).get("Uploads")


def test_storage_setup_in_local_mode_does_nothing(capsys):
    call_command("storage_setup")
    assert "MEDIA_STORAGE is local" in capsys.readouterr().out


def test_health_reports_the_bucket_and_refused_credentials(s3_media, client, settings):
    healthy = client.get("/api/health/?only=storage")
    assert healthy.status_code == 200 and healthy.json()["checks"]["storage"] == {"ok": True}

    settings.AWS_SECRET_ACCESS_KEY = "wrong-secret-key-0123456789"
    settings.STORAGES = {**settings.STORAGES}  # build the storage again with the wrong secret
    refused = client.get("/api/health/?only=storage")

    assert refused.status_code == 503
    assert refused.json()["errors"]["storage"][0]


def test_the_lifecycle_rule_never_aborts_an_upload_staff_may_still_resume(s3_media, settings):
    settings.VIDEO_UPLOAD_RESUME_HOURS = 50

    assert media_store.bucket_lifecycle_set()

    lifecycle = s3_media.client().get_bucket_lifecycle_configuration(Bucket=s3_media.bucket)["Rules"]
    assert lifecycle[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
