"""Browser-to-bucket uploads (MEDIA_STORAGE=s3) at the protocol level: Django's signing endpoints
with its test client, and the presigned requests sent over HTTP to the session's real SeaweedFS,
as the browser's uploader sends them."""

import datetime
import json
import re

import django_rq
import pytest
import requests
from django.test import Client

from tests.factories import CategoryFactory, UserFactory
from tests.support.nginx import nginx_missing, store_front
from video import media_store
from video.models import Video
from video.pipeline.ffmpeg.probe import check_upload
from video.pipeline.ffmpeg.process import ProbeError
from video.uploads import bucket

pytestmark = pytest.mark.django_db

START = "/admin/video/video/uploads/s3/"
SIGN = START + "sign"
CHECK = START + "check"
TEXT = b"Dear staff, this is a text file.\n" * 20


def post(client, url: str, body: dict, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def start(client, size: int, filename: str = "My film.mp4") -> dict:
    response = post(client, START, {"filename": filename, "size": size})
    assert response.status_code == 200, response.content
    return response.json()


def signed(client, upload: dict, method: str, **extra) -> str:
    body = {"method": method, "key": upload["key"], "uploadId": upload["uploadId"], **extra}
    response = post(client, SIGN, body)
    assert response.status_code == 200, response.content
    return response.json()["url"]


def send(client, content: bytes, filename: str = "My film.mp4") -> dict:
    """Upload `content` as one part and complete, as Uppy's AwsS3 plugin does; the upload's ids."""
    upload = start(client, len(content), filename)
    part = requests.put(signed(client, upload, "PUT", partNumber=1), data=content, timeout=30)
    assert part.status_code == 200, part.text
    xml = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{part.headers['ETag']}</ETag></Part></CompleteMultipartUpload>"
    )
    done = requests.post(
        signed(client, upload, "POST"), data=xml, headers={"Content-Type": "application/xml"}, timeout=30
    )
    assert done.status_code == 200, done.text
    return upload


def bucket_keys(prefix: str = "") -> list[str]:
    return media_store.keys_list(prefix)


def test_an_upload_goes_to_the_bucket_is_checked_and_the_form_keeps_it_as_the_source(
    admin_client, s3_media, landscape_clip, django_capture_on_commit_callbacks
):
    content = landscape_clip.read_bytes()
    upload = send(admin_client, content)
    assert re.fullmatch(r"uploads/\d+/\d+-[0-9a-f]{16}/[0-9a-f]{32}", upload["key"])

    checked = post(admin_client, CHECK, {"key": upload["key"]})
    assert checked.status_code == 200, checked.content
    data = {"title": "To the bucket", "description": "", "category": CategoryFactory().pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/video/video/add/", {**data, "upload": checked.json()["upload"]})

    assert response.status_code == 302, response.context["adminform"].form.errors
    video = Video.objects.get(title="To the bucket")
    assert video.source.name == upload["key"]
    assert video.original_filename == "My film.mp4"
    assert video.source_probe["width"] == 640
    assert media_store.object_read(upload["key"]) == content
    assert bucket_keys(bucket.CHECKED_PREFIX) == []  # the record is forgotten once the row has it
    assert django_rq.get_queue("transcode").count == 1


def test_a_resumed_upload_is_the_open_one_and_lists_the_parts_already_sent(admin_client, s3_media):
    first = start(admin_client, 12 * 1024 * 1024, "Long film.mp4")
    part = requests.put(
        signed(admin_client, first, "PUT", partNumber=1), data=b"\0" * (8 * 1024 * 1024), timeout=30
    )
    assert part.status_code == 200

    again = start(admin_client, 12 * 1024 * 1024, "Long film.mp4")
    other_file = start(admin_client, 12 * 1024 * 1024, "Another film.mp4")
    listed = requests.get(signed(admin_client, again, "GET"), timeout=30)

    assert again == first and other_file["key"] != first["key"]
    assert "<PartNumber>1</PartNumber>" in listed.text and "<Size>8388608</Size>" in listed.text


MiB = 1024 * 1024


def open_uploads() -> list[dict]:
    return media_store.client().list_multipart_uploads(Bucket=media_store.bucket()).get("Uploads", [])


def test_start_names_the_part_size_and_each_part_url_is_signed_for_its_exact_length(admin_client, s3_media):
    upload = start(admin_client, 12 * MiB)
    assert upload["partBytes"] == 8 * MiB
    assert bucket.part_bytes(100_000 * MiB) == 10 * MiB  # 10,000 parts at most

    second = signed(admin_client, upload, "PUT", partNumber=2)
    assert "X-Amz-SignedHeaders=content-length%3Bhost" in second
    # SeaweedFS checks the signed length: a part of any other size is refused by the store itself.
    assert requests.put(second, data=b"\0" * (4 * MiB + 1), timeout=30).status_code == 403
    assert requests.put(second, data=b"\0" * (4 * MiB - 1), timeout=30).status_code == 403
    oversized = requests.put(
        signed(admin_client, upload, "PUT", partNumber=1), data=b"\0" * (12 * MiB), timeout=60
    )
    assert oversized.status_code == 403, oversized.text
    assert requests.put(second, data=b"\0" * (4 * MiB), timeout=30).status_code == 200
    parts = media_store.client().list_parts(
        Bucket=media_store.bucket(), Key=upload["key"], UploadId=upload["uploadId"]
    )["Parts"]
    assert [(part["PartNumber"], part["Size"]) for part in parts] == [(2, 4 * MiB)]


def test_the_completion_is_refused_and_the_upload_aborted_when_the_parts_do_not_add_up(
    admin_client, s3_media
):
    upload = start(admin_client, 12 * MiB)
    part = requests.put(signed(admin_client, upload, "PUT", partNumber=1), data=b"\0" * (8 * MiB), timeout=30)
    assert part.status_code == 200

    body = {"method": "POST", "key": upload["key"], "uploadId": upload["uploadId"]}
    refused = post(admin_client, SIGN, body)

    assert refused.status_code == 422
    assert refused.content.decode() == (
        "The parts of the upload hold 8388608 bytes, not the file's 12582912 bytes; "
        "the upload was cancelled, please upload the file again."
    )
    assert open_uploads() == []
    assert post(admin_client, SIGN, body).status_code == 404  # nothing more is signed for it


def test_the_completion_is_refused_when_a_part_is_larger_than_a_part_may_be(admin_client, s3_media):
    """A store that does not check the signed length would keep an oversized part: here it is put
    with the server's own credentials, and the completion refuses it."""
    upload = start(admin_client, 12 * MiB)
    media_store.client().upload_part(
        Bucket=media_store.bucket(),
        Key=upload["key"],
        UploadId=upload["uploadId"],
        PartNumber=1,
        Body=b"\0" * (12 * MiB),
    )

    refused = post(
        admin_client, SIGN, {"method": "POST", "key": upload["key"], "uploadId": upload["uploadId"]}
    )

    assert refused.status_code == 422
    assert refused.content.decode() == (
        "Part 1 of the upload holds 12582912 bytes, more than the 8388608 bytes a part of this file "
        "may hold; the upload was cancelled, please upload the file again."
    )
    assert open_uploads() == []


def test_a_text_file_named_mp4_is_refused_with_a_sentence_and_its_object_deleted(admin_client, s3_media):
    upload = send(admin_client, TEXT, "notes.mp4")
    assert bucket_keys(bucket.PREFIX) == [upload["key"]]

    refused = post(admin_client, CHECK, {"key": upload["key"]})

    assert refused.status_code == 422
    assert refused["Content-Type"].startswith("text/plain")
    assert (
        "not a video" in refused.content.decode().lower() or "could not" in refused.content.decode().lower()
    )
    assert bucket_keys() == []


@pytest.mark.parametrize("fixture", ["truncated_mp4", "truncated_faststart_mp4"])
def test_a_damaged_film_is_refused_with_the_sentence_of_a_plain_upload(
    admin_client, s3_media, request, fixture
):
    damaged = request.getfixturevalue(fixture)
    with pytest.raises(ProbeError) as local:
        check_upload(damaged)
    upload = send(admin_client, damaged.read_bytes(), "damaged.mp4")

    refused = post(admin_client, CHECK, {"key": upload["key"]})

    assert refused.status_code == 422
    assert refused.content.decode() == local.value.message  # read through the URL, judged the same
    assert bucket_keys() == []


def test_a_file_beyond_the_size_limit_or_empty_is_refused_before_any_upload_starts(
    admin_client, s3_media, settings
):
    settings.VIDEO_MAX_UPLOAD_MB = 1

    too_large = post(admin_client, START, {"filename": "big.mp4", "size": 3 * 1024 * 1024})
    empty = post(admin_client, START, {"filename": "empty.mp4", "size": 0})

    assert too_large.status_code == 413
    assert too_large.content.decode() == "This file is 3 MB; the largest upload allowed is 1 MB."
    assert empty.status_code == 400 and empty.content.decode() == "The file is empty."
    assert media_store.client().list_multipart_uploads(Bucket=media_store.bucket()).get("Uploads", []) == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"uploadId": "not-an-upload"}, 404),
        ({"uploadId": ""}, 400),
        ({"partNumber": 0}, 400),
        ({"partNumber": 3}, 400),  # a 12 MiB file is two parts: 8 MiB and the 4 MiB left
        ({"method": "PATCH"}, 400),
        ({"key": "sources/abc.mp4"}, 404),
    ],
)
def test_only_requests_of_the_callers_open_upload_are_signed(admin_client, s3_media, change, status):
    upload = start(admin_client, 12 * 1024 * 1024)
    body = {"method": "PUT", "key": upload["key"], "uploadId": upload["uploadId"], "partNumber": 1, **change}

    response = post(admin_client, SIGN, body)

    assert response.status_code == status, response.content
    assert "url" not in response.content.decode()


def test_another_staff_member_cannot_sign_check_or_resume_an_upload(admin_client, s3_media, password):
    upload = start(admin_client, 12 * 1024 * 1024)
    other = Client()
    other.force_login(UserFactory(password=password, is_staff=True, is_superuser=True))

    assert post(other, SIGN, {"method": "PUT", "partNumber": 1, **upload}).status_code == 404
    assert post(other, CHECK, {"key": upload["key"]}).status_code == 404
    assert start(other, 12 * 1024 * 1024)["key"] != upload["key"]


def test_only_staff_with_the_csrf_token_may_start_an_upload(s3_media, staff_user, password):
    viewer = Client()
    viewer.force_login(UserFactory(password=password))
    assert post(viewer, START, {"filename": "a.mp4", "size": 10}).status_code == 403
    assert post(Client(), START, {"filename": "a.mp4", "size": 10}).status_code == 403

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    client.get("/admin/video/video/add/")
    token = client.cookies["csrftoken"].value
    assert post(client, START, {"filename": "a.mp4", "size": 10}).status_code == 403
    assert post(client, START, {"filename": "a.mp4", "size": 10}, X_CSRFToken=token).status_code == 200


def test_an_aborted_upload_is_gone_and_signs_nothing_more(admin_client, s3_media):
    upload = start(admin_client, 12 * 1024 * 1024)

    aborted = requests.delete(signed(admin_client, upload, "DELETE"), timeout=30)

    assert aborted.status_code == 204
    assert post(admin_client, SIGN, {"method": "PUT", "partNumber": 1, **upload}).status_code == 404


def test_the_sweep_aborts_stale_uploads_and_removes_checked_objects_no_video_took(
    admin_client, s3_media, landscape_clip
):
    open_upload = start(admin_client, 12 * 1024 * 1024)
    finished = send(admin_client, landscape_clip.read_bytes())
    assert post(admin_client, CHECK, {"key": finished["key"]}).status_code == 200

    assert bucket.upload_sweep() == 0  # fresh: kept
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=25)
    assert bucket.upload_sweep(now=later) == 2

    assert bucket_keys() == []
    uploads = media_store.client().list_multipart_uploads(Bucket=media_store.bucket()).get("Uploads", [])
    assert open_upload["uploadId"] not in [item["UploadId"] for item in uploads]


def test_the_add_page_on_s3_renders_the_bucket_uploader(admin_client, s3_media):
    page = admin_client.get("/admin/video/video/add/").content.decode()

    assert 'data-backend="s3"' in page and f'data-endpoint="{START}"' in page


@pytest.mark.skipif(nginx_missing() is not None, reason=str(nginx_missing()))
def test_the_shipped_store_front_lets_the_admins_origin_send_parts_and_read_their_etag(
    admin_client, s3_media, settings, tmp_path
):
    admin_origin = "http://localhost:8000"
    with store_front(tmp_path / "front", upstream=s3_media.endpoint.removeprefix("http://")) as front:
        settings.AWS_S3_CUSTOM_DOMAIN = front
        upload = start(admin_client, 6 * 1024 * 1024)
        part_url = signed(admin_client, upload, "PUT", partNumber=1)
        preflight = requests.options(
            part_url,
            headers={"Origin": admin_origin, "Access-Control-Request-Method": "PUT"},
            timeout=30,
        )
        part = requests.put(
            part_url, data=b"\0" * (6 * 1024 * 1024), headers={"Origin": admin_origin}, timeout=30
        )
        unsigned = requests.put(f"http://{front}/{s3_media.bucket}/{upload['key']}", data=b"x", timeout=30)

    assert part_url.startswith(f"http://{front}/{s3_media.bucket}/uploads/")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == admin_origin
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert part.status_code == 200 and part.headers["ETag"]
    assert "ETag" in part.headers["Access-Control-Expose-Headers"]
    assert unsigned.status_code == 403  # the store still checks every signature


def test_in_local_mode_the_bucket_endpoints_answer_404_and_the_page_uses_tus(admin_client):
    refused = post(admin_client, START, {"filename": "a.mp4", "size": 10})
    page = admin_client.get("/admin/video/video/add/").content.decode()

    assert refused.status_code == 404
    assert refused.content.decode() == "Uploads go to the bucket only with MEDIA_STORAGE=s3."
    assert 'data-backend="tus"' in page
