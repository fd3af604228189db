"""Staff uploads with MEDIA_STORAGE=s3: checked on the local temporary file first, then streamed
into the bucket; refused uploads and an unreachable store leave no object and no row."""

import django_rq
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import CategoryFactory
from tests.support import ffmpeg
from tests.support.objectstore import seaweed_store
from video.models import Video

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ADD_URL = "/admin/video/video/add/"


def upload(admin_client, content: bytes, name="film.mp4"):
    data = {
        "title": "Uploaded film",
        "description": "",
        "category": CategoryFactory(name="Drama").pk,
        "source": SimpleUploadedFile(name, content, content_type="video/mp4"),
    }
    return admin_client.post(ADD_URL, data)


def source_errors(response) -> str:
    return " ".join(str(error) for error in response.context["adminform"].form.errors.get("source", []))


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory):
    """About 15 MB of lossless noise: large enough for a multipart upload (parts of 8 MB)."""
    path = tmp_path_factory.mktemp("big") / "noise.mp4"
    noise = "nullsrc=s=640x360:r=25:d=3,geq=random(1)*255:128:128"
    ffmpeg("-f", "lavfi", "-i", noise, "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(path))
    return path


def test_an_upload_is_checked_then_stored_in_the_bucket(
    s3_media, admin_client, landscape_clip, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, landscape_clip.read_bytes(), name="My Film.mp4")

    assert response.status_code == 302, source_errors(response) if response.context else response
    video = Video.objects.get()
    assert video.original_filename == "My Film.mp4"
    assert video.source.name.startswith("sources/") and video.source.name.endswith(".mp4")
    head = s3_media.client().head_object(Bucket=s3_media.bucket, Key=video.source.name)
    assert head["ContentLength"] == landscape_clip.stat().st_size
    assert video.source_probe["container"]
    assert django_rq.get_queue("transcode").count == 1


@pytest.mark.parametrize("fixture", ["truncated_mp4", "audio_only_file"])
def test_refused_uploads_leave_no_object(s3_media, admin_client, request, fixture):
    response = upload(admin_client, request.getfixturevalue(fixture).read_bytes())

    assert response.status_code == 200 and source_errors(response)
    assert not Video.objects.exists()
    assert s3_media.keys(s3_media.bucket) == []


def test_an_unreachable_store_is_a_sentence_on_the_form_and_nothing_is_saved(
    admin_client, landscape_clip, settings
):
    with seaweed_store() as store:
        store.client().create_bucket(Bucket="down-store")
        for name, value in store.env("down-store").items():
            setattr(settings, name, value)
        settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
        store.stop()

        response = upload(admin_client, landscape_clip.read_bytes())

        assert response.status_code == 200
        assert "The media store is not reachable" in source_errors(response)
        assert not Video.objects.exists()
        store.start()
        assert store.keys("down-store") == []


def test_the_store_stopping_in_the_middle_of_an_upload_leaves_no_object(admin_client, big_clip, settings):
    with seaweed_store() as store:
        store.client().create_bucket(Bucket="stops-store")
        for name, value in store.env("stops-store").items():
            setattr(settings, name, value)
        settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
        parts = []

        def stop_after_first_part(**kwargs):
            parts.append(1)
            if len(parts) == 1:
                store.stop()

        events = default_storage.connection.meta.client.meta.events
        events.register("after-call.s3.UploadPart", stop_after_first_part)

        response = upload(admin_client, big_clip.read_bytes())

        assert parts, "the upload was not sent in parts"
        assert response.status_code == 200
        assert "The media store is not reachable" in source_errors(response)
        assert not Video.objects.exists()
        store.start()
        assert store.keys("stops-store") == []
