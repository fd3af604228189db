"""Staff uploads with MEDIA_STORAGE=s3 in a real browser: Chromium on the admin page (a real
gunicorn and RQ worker) sends the film's parts straight to the session's SeaweedFS with URLs Django
signs. The parts go through a loopback relay that bounds their rate (the URLs are signed for the
relay's host, which passes every byte on unchanged), so the page can be closed half way; what
the bucket holds is read with ListParts, and the bytes sent after the resume are the parts the
second page PUT. Once the film is ready, the change page's preview plays it from the bucket.
"""

import hashlib
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_staff_browser import FILE_INPUT, logged_in, screenshot
from tests.factories import CategoryFactory, UserFactory
from tests.support import BASE_DIR, Relay, gunicorn, live_env, make_clip, rq_worker, wait_until
from video import media_store
from video.models import Video
from video.uploads import bucket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUNDLES = BASE_DIR / "frontend" / "dist" / "staff"
PASSWORD = "Sturdy-Passw0rd!"
PART_BYTES_PER_SECOND = 2_000_000


@pytest.fixture
def s3_staff_site(browser, settings, s3_media, tmp_path):
    """gunicorn and a worker on this test's bucket; a relay in front of the admin and one in front
    of the store (the host the part URLs are signed for); a staff login."""
    if not (BUNDLES / "uploader.js").exists():
        pytest.skip("The admin's bundles are missing; build them with: npm ci && npm run build")
    staff = UserFactory(email="staff@example.com", password=PASSWORD, is_staff=True, is_superuser=True)
    store = Relay(s3_media.endpoint, upload_rate=PART_BYTES_PER_SECOND)
    store_host = store.url.removeprefix("http://")
    env = live_env(
        settings,
        **s3_media.env(s3_media.bucket),
        AWS_S3_CUSTOM_DOMAIN=store_host,
        AWS_S3_URL_PROTOCOL="http:",
        ALLOWED_HOSTS="127.0.0.1",
        VIDEO_RUNGS="120p,360p",
        VIDEO_HLS_SEGMENT_SECONDS=2,
    )
    with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path):
        admin = Relay(web.url)
        # What storage_setup sets for VIDEO_UPLOAD_ORIGINS: the admin's origin may send parts.
        media_store.bucket_cors_set(origins=[], upload_origins=[admin.url])
        try:
            yield admin.url, logged_in(browser, admin.url, staff.email)
        finally:
            admin.close()
            store.close()


def parts_in_bucket() -> int:
    """Bytes of the finished parts of the one open multipart upload (0 when there is none)."""
    client, name = media_store.client(), media_store.bucket()
    uploads = client.list_multipart_uploads(Bucket=name, Prefix=bucket.PREFIX).get("Uploads", [])
    if len(uploads) != 1:
        return 0
    listed = client.list_parts(Bucket=name, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])
    return sum(part["Size"] for part in listed.get("Parts", []))


def add_page(context, url: str):
    page = context.new_page()
    page.goto(f"{url}/admin/video/video/add/")
    page.wait_for_selector(FILE_INPUT, state="attached")
    return page


def test_an_upload_to_the_bucket_resumes_after_the_page_is_closed_and_the_film_becomes_ready(
    s3_staff_site, s3_media, tmp_path
):
    url, context = s3_staff_site
    film = make_clip(tmp_path / "Long film.mp4", width=1280, height=720, seconds=30)
    size = film.stat().st_size
    category = CategoryFactory(name="Drama")

    first = add_page(context, url)
    first.set_input_files(FILE_INPUT, str(film))
    assert wait_until(lambda: parts_in_bucket() > 0, timeout=90, interval=0.1), "no part arrived"
    first.close()
    held = parts_in_bucket()
    assert 0 < held < size, "the whole file arrived before the page closed: not throttled"

    second = add_page(context, url)
    puts = []
    second.on(
        "request",
        lambda request: (
            request.method == "PUT"
            and puts.append(int(parse_qs(urlsplit(request.url).query)["partNumber"][0]))
        ),
    )
    second.set_input_files(FILE_INPUT, str(film))
    second.wait_for_selector('.vf-uploader[data-state="accepted"]', timeout=120_000)

    assert puts and 1 not in puts, f"the first part was sent again: {puts}"
    part_bytes = 8 * 1024 * 1024
    sent_after_resume = sum(min(part_bytes, size - (number - 1) * part_bytes) for number in puts)
    assert sent_after_resume == size - held  # only what the bucket did not have
    keys = s3_media.keys(s3_media.bucket, bucket.PREFIX)
    film_key = next(key for key in keys if not key.startswith(bucket.CHECKED_PREFIX))
    stored = media_store.object_read(film_key)
    assert hashlib.sha256(stored).digest() == hashlib.sha256(film.read_bytes()).digest()

    second.fill("#id_title", "Resumed into the bucket")
    second.evaluate(
        "(id) => document.getElementById('id_category').add(new Option('Drama', id, true, true))", category.pk
    )
    second.click("input[name=_continue]")
    second.wait_for_selector("#vf-status", state="attached")
    video = Video.objects.get(title="Resumed into the bucket")
    assert (video.source.name, video.original_filename) == (film_key, "Long film.mp4")
    second.wait_for_function(
        "document.querySelector('.field-status .readonly').textContent.trim() === 'Ready'", timeout=240_000
    )
    screenshot(second, "s3-upload-ready")
    video.refresh_from_db()
    assert video.status == Video.Status.READY
    assert media_store.keys_list(f"hls/{video.pk}/{video.hls_version}/360p/")
    assert s3_media.keys(s3_media.bucket, bucket.CHECKED_PREFIX) == []

    # The preview plays the version in the bucket: segments come from the store, presigned.
    segments = []
    second.on("request", lambda request: ".ts" in request.url and segments.append(request.url))
    second.reload()
    rungs = second.locator(".vf-preview-rungs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.rung)")
    assert rungs == ["120p", "360p"]
    sizes = second.locator(".vf-preview-rungs tbody tr td:nth-child(6)").all_text_contents()
    assert all(re.fullmatch(r"[0-9.]+\xa0(KB|MB)", size) for size in sizes), sizes
    second.evaluate("document.getElementById('vf-preview-video').play()")
    second.wait_for_function("document.getElementById('vf-preview-video').currentTime > 1.5", timeout=60_000)
    played = second.evaluate("window.vfPreview")
    assert played["errors"] == [] and played["fragments"] > 0
    store_segment = f"/{s3_media.bucket}/hls/{video.pk}/{video.hls_version}/"
    assert segments and all(store_segment in url and "X-Amz-Signature=" in url for url in segments), segments
    assert second.locator("#vf-preview-rung option").count() == 3  # automatic and two rungs
    screenshot(second, "s3-preview-playing")


def test_a_text_file_renamed_mp4_is_refused_on_the_page_and_leaves_no_object(
    s3_staff_site, s3_media, tmp_path
):
    url, context = s3_staff_site
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"Dear staff, this is a text file.\n" * 200)

    page = add_page(context, url)
    page.set_input_files(FILE_INPUT, str(text))
    page.wait_for_selector('.vf-uploader[data-state="refused"]', timeout=60_000)

    message = page.locator(".vf-upload-message")
    assert message.is_visible()
    assert "could not be read as a video" in message.text_content()
    assert page.locator("input[name=_save]").is_disabled()
    assert s3_media.keys(s3_media.bucket) == []
    uploads = media_store.client().list_multipart_uploads(Bucket=s3_media.bucket).get("Uploads", [])
    assert uploads == []
    screenshot(page, "s3-refused-text-file")


def test_cancelling_an_upload_to_the_bucket_aborts_it_there(s3_staff_site, s3_media, tmp_path):
    url, context = s3_staff_site
    film = make_clip(tmp_path / "film.mp4", width=1280, height=720, seconds=20)

    page = add_page(context, url)
    page.set_input_files(FILE_INPUT, str(film))
    assert wait_until(lambda: parts_in_bucket() > 0, timeout=90, interval=0.1), "no part arrived"
    page.click("button.uppy-DashboardContent-back")  # "Cancel": a signed AbortMultipartUpload

    client = media_store.client()
    assert wait_until(
        lambda: not client.list_multipart_uploads(Bucket=s3_media.bucket).get("Uploads"), timeout=30
    ), "the multipart upload is still open"
    assert s3_media.keys(s3_media.bucket) == []
    assert page.get_attribute(".vf-uploader", "data-state") == "", page.locator(
        ".vf-upload-message"
    ).text_content()
    assert page.locator("input[name=_save]").is_disabled()


def test_an_upload_to_the_bucket_can_be_paused_and_resumed_and_ends_with_the_files_bytes(
    s3_staff_site, s3_media, tmp_path
):
    url, context = s3_staff_site
    film = make_clip(tmp_path / "film.mp4", width=1280, height=720, seconds=20)
    size = film.stat().st_size

    page = add_page(context, url)
    puts = []
    page.on("request", lambda request: request.method == "PUT" and puts.append(time.monotonic()))
    page.set_input_files(FILE_INPUT, str(film))
    assert wait_until(lambda: parts_in_bucket() > 0, timeout=90, interval=0.1), "no part arrived"
    page.click('button[title="Pause upload"]')
    paused_at, last = time.monotonic(), -1
    while (held := parts_in_bucket()) != last:  # a part in flight may still land
        last = held
        time.sleep(1.5)
    quiet_from = time.monotonic()
    time.sleep(3)
    assert 0 < parts_in_bucket() == held < size  # part of the file, and nothing more while paused
    assert not [at for at in puts if at > quiet_from], "a part was sent while paused"
    assert [at for at in puts if at < paused_at]

    page.click('button[title="Resume upload"]')
    # Only a resumed upload can finish: the bucket held part of the file when it was paused.
    page.wait_for_selector('.vf-uploader[data-state="accepted"]', timeout=120_000)

    keys = s3_media.keys(s3_media.bucket, bucket.PREFIX)
    film_key = next(key for key in keys if not key.startswith(bucket.CHECKED_PREFIX))
    stored = media_store.object_read(film_key)
    assert hashlib.sha256(stored).digest() == hashlib.sha256(film.read_bytes()).digest()
    assert not page.locator("input[name=_save]").is_disabled()
    screenshot(page, "s3-paused-resumed-accepted")
