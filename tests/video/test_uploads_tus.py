"""The tus 1.0 server of the admin (video/uploads/), at the protocol level with Django's client:
creation, offsets, termination, expiration, size limits, staff-only access with CSRF, the upload
checks when the last byte arrives, and the video form that takes a finished upload."""

import base64
import hashlib
import os
import time
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.test import Client

from tests.factories import CategoryFactory, UserFactory
from video.models import Video
from video.uploads import services, store

pytestmark = pytest.mark.django_db

ENDPOINT = "/admin/video/video/uploads/"
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
TEXT = b"Dear staff, this is a text file.\n" * 20


def metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def create(client, length: int, name: str = "film.mp4", **headers) -> str:
    response = client.post(
        ENDPOINT,
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(filename=name), **headers},
    )
    assert response.status_code == 201, response.content
    return response["Location"]


def patch(client, location: str, offset: int, data: bytes, **headers):
    return client.generic(
        "PATCH",
        location,
        data,
        content_type=OFFSET_TYPE,
        headers={**TUS, "Upload-Offset": str(offset), **headers},
    )


def upload_id(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


def stored_files() -> list[Path]:
    folder = Path(settings.VIDEO_UPLOAD_DIR)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_options_announce_the_version_the_extensions_and_the_size_limit(admin_client):
    response = admin_client.options(ENDPOINT)

    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Extension"] == "creation,termination,expiration"
    assert response["Tus-Max-Size"] == str(settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024)


def test_a_film_sent_in_pieces_is_assembled_byte_for_byte_checked_and_accepted(admin_client, landscape_clip):
    content = landscape_clip.read_bytes()
    location = create(admin_client, len(content))
    assert location.startswith("http://testserver/admin/video/video/uploads/")
    assert admin_client.head(location, headers=TUS)["Upload-Offset"] == "0"

    half = len(content) // 2
    first = patch(admin_client, location, 0, content[:half])
    assert first.status_code == 204 and first["Upload-Offset"] == str(half)
    assert "GMT" in first["Upload-Expires"]
    resumed = admin_client.head(location, headers=TUS)
    assert (resumed.status_code, resumed["Upload-Offset"], resumed["Upload-Length"]) == (
        200,
        str(half),
        str(len(content)),
    )
    assert resumed["Cache-Control"].startswith("max-age=0")
    last = patch(admin_client, location, half, content[half:])

    assert last.status_code == 204 and last["Upload-Offset"] == str(len(content))
    upload = store.get(upload_id(location))
    assert upload.state == store.State.ACCEPTED and upload.filename == "film.mp4"
    assert upload.probe["width"] == 640 and upload.probe["height"] == 360
    assert hashlib.sha256(upload.part_path.read_bytes()).digest() == hashlib.sha256(content).digest()
    # Outside MEDIA_ROOT: nothing half-uploaded is ever under the served folder.
    assert not Path(upload.part_path).is_relative_to(settings.MEDIA_ROOT)


def test_a_text_file_named_mp4_is_refused_with_a_sentence_and_nothing_is_kept(admin_client):
    location = create(admin_client, len(TEXT), name="notes.mp4")

    response = patch(admin_client, location, 0, TEXT)

    assert response.status_code == 422
    assert "could not be read as a video" in response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert stored_files() == []
    assert admin_client.head(location, headers=TUS).status_code == 404


def test_creation_beyond_the_size_limit_is_refused_with_a_sentence(admin_client, settings):
    settings.VIDEO_MAX_UPLOAD_MB = 1
    response = admin_client.post(ENDPOINT, headers={**TUS, "Upload-Length": str(3 * 1024 * 1024)})

    assert response.status_code == 413
    assert response.content.decode() == "This file is 3 MB; the largest upload allowed is 1 MB."
    assert stored_files() == []


@pytest.mark.parametrize(
    ("offset", "data", "headers", "status"),
    [
        (5, b"abc", {}, 409),  # not the upload's offset
        (0, b"x" * 101, {}, 413),  # more than the announced length
        (0, b"abc", {"Tus-Resumable": "0.2.2"}, 412),
    ],
    ids=["offset-mismatch", "beyond-length", "old-protocol"],
)
def test_a_patch_that_breaks_the_rules_is_refused_and_writes_nothing(
    admin_client, offset, data, headers, status
):
    location = create(admin_client, 100)

    response = patch(admin_client, location, offset, data, **headers)

    assert response.status_code == status, response.content
    assert store.get(upload_id(location)).offset == 0


def test_a_patch_must_be_sent_as_offset_octet_stream(admin_client):
    location = create(admin_client, 100)

    response = admin_client.generic(
        "PATCH", location, b"abc", content_type="application/json", headers={**TUS, "Upload-Offset": "0"}
    )

    assert response.status_code == 415
    assert store.get(upload_id(location)).offset == 0


def test_termination_removes_the_upload(admin_client):
    location = create(admin_client, 100)
    patch(admin_client, location, 0, b"some bytes")

    assert admin_client.delete(location, headers=TUS).status_code == 204
    assert stored_files() == []
    assert admin_client.head(location, headers=TUS).status_code == 404


def test_an_expired_upload_answers_410_and_is_removed(admin_client):
    location = create(admin_client, 100)
    store.update(store.get(upload_id(location)), expires_at=time.time() - 1)

    assert patch(admin_client, location, 0, b"abc").status_code == 410
    assert stored_files() == []


def test_the_sweep_removes_abandoned_uploads_and_keeps_fresh_ones(admin_client, settings):
    abandoned = upload_id(create(admin_client, 100))
    fresh = upload_id(create(admin_client, 100))
    store.update(store.get(abandoned), expires_at=time.time() - 1)
    stray = Path(settings.VIDEO_UPLOAD_DIR) / "0123.json.tmp"
    stray.write_text("{}")
    old = time.time() - 2 * 3600
    os.utime(stray, (old, old))

    assert services.upload_sweep() == 1
    assert store.get(abandoned) is None and store.get(fresh) is not None
    assert not stray.exists()


def test_only_staff_may_upload_and_only_to_their_own_uploads(admin_client, password):
    client = Client()
    client.force_login(UserFactory(password=password))
    assert client.post(ENDPOINT, headers={**TUS, "Upload-Length": "10"}).status_code == 403
    assert Client().post(ENDPOINT, headers={**TUS, "Upload-Length": "10"}).status_code == 403

    location = create(admin_client, 10)
    other_staff = Client()
    other_staff.force_login(UserFactory(password=password, is_staff=True, is_superuser=True))
    assert other_staff.head(location, headers=TUS).status_code == 404
    assert patch(other_staff, location, 0, b"abc").status_code == 404


def test_changes_need_the_csrf_token_of_the_session(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    client.get("/admin/video/video/add/")  # sets the csrftoken cookie, as the page does
    token = client.cookies["csrftoken"].value

    refused = client.post(ENDPOINT, headers={**TUS, "Upload-Length": "10"})
    accepted = client.post(ENDPOINT, headers={**TUS, "Upload-Length": "10", "X-CSRFToken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 201


def finished_upload(client, clip: Path) -> str:
    content = clip.read_bytes()
    location = create(client, len(content), name="My film.mp4")
    assert patch(client, location, 0, content).status_code == 204
    return upload_id(location)


def test_the_add_form_stores_a_finished_upload_as_the_source_and_queues_its_transcode(
    admin_client, landscape_clip, django_capture_on_commit_callbacks
):
    upload = finished_upload(admin_client, landscape_clip)
    data = {
        "title": "Uploaded resumably",
        "description": "",
        "category": CategoryFactory().pk,
        "upload": upload,
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/video/video/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    video = Video.objects.get(title="Uploaded resumably")
    assert video.original_filename == "My film.mp4"
    assert video.source.name.startswith("sources/") and video.source.name.endswith(".mp4")
    assert Path(video.source.path).read_bytes() == landscape_clip.read_bytes()
    assert video.source_probe["width"] == 640
    assert stored_files() == []  # moved into storage, the upload forgotten
    assert django_rq.get_queue("transcode").count == 1


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        ("unfinished", "The upload has not finished yet"),
        ("someone-elses", "This upload does not exist"),
        ("none", "This field is required."),
    ],
)
def test_the_add_form_is_not_saved_without_a_finished_accepted_upload_of_this_user(
    admin_client, password, prepare, message
):
    upload = ""
    if prepare == "unfinished":
        upload = upload_id(create(admin_client, 100))
    elif prepare == "someone-elses":
        other = Client()
        other.force_login(UserFactory(password=password, is_staff=True, is_superuser=True))
        upload = upload_id(create(other, 100))
    data = {"title": "Not saved", "description": "", "category": CategoryFactory().pk, "upload": upload}

    response = admin_client.post("/admin/video/video/add/", data)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert message in " ".join(str(error) for errors in form.errors.values() for error in errors)
    assert not Video.objects.filter(title="Not saved").exists()


def test_the_add_page_renders_the_uploader_and_keeps_the_plain_field(admin_client):
    page = admin_client.get("/admin/video/video/add/").content.decode()

    assert 'class="vf-uploader" data-backend="tus" data-endpoint="/admin/video/video/uploads/"' in page
    assert 'type="file" name="source"' in page  # the form without JavaScript
    assert "staff/uploader.js" in page


def test_while_a_request_writes_to_an_upload_others_on_it_answer_423_and_change_nothing(admin_client):
    location = create(admin_client, 100)
    upload = store.get(upload_id(location))

    with store.appending(upload):  # a PATCH still reading its body
        assert patch(admin_client, location, 0, b"abc").status_code == 423
        assert admin_client.delete(location, headers=TUS).status_code == 423
        assert services.upload_sweep(now=time.time() + 10 * 24 * 3600) == 0

    assert store.get(upload.id).offset == 0
    assert admin_client.delete(location, headers=TUS).status_code == 204
    assert stored_files() == []


@pytest.mark.django_db(transaction=True)
def test_the_workers_maintenance_sweeps_abandoned_uploads(admin_client):
    from video.pipeline.tasks import VideoflixWorker

    abandoned = upload_id(create(admin_client, 100))
    store.update(store.get(abandoned), expires_at=time.time() - 1)
    queue = django_rq.get_queue("transcode")

    VideoflixWorker([queue], connection=queue.connection).run_maintenance_tasks()

    assert store.get(abandoned) is None and stored_files() == []
