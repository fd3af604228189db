"""Staff in a real browser (Debian's Chromium through Playwright) against a real gunicorn and RQ
worker: a resumable upload that survives a closed page, the live progress of its transcode, the
preview player, and a refused file. Screenshots of each final state go to tests/e2e/output/.

The network is throttled with the DevTools protocol (Network.emulateNetworkConditions) and by a
loopback relay between the browser and gunicorn (tests/support/relay.py, which can also drop every
connection), so the page can be closed half way through the upload; what the server holds is read
from its upload folder, and the bytes sent after the resume are the server's offsets before and
after. DevTools' throttling is not always applied to an XHR's body (about one run in six sent
12 MB at full speed), so the relay is what makes "half way" reliable.
"""

import hashlib
import re
import time
from pathlib import Path

import pytest

from tests.factories import CategoryFactory, UserFactory, VideoFactory
from tests.support import BASE_DIR, Relay, gunicorn, live_env, make_clip, rq_worker, wait_until
from video.models import Video
from video.uploads.services import COPY_CHUNK_BYTES

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUNDLES = BASE_DIR / "frontend" / "dist" / "staff"
OUTPUT = BASE_DIR / "tests" / "e2e" / "output"
PASSWORD = "Sturdy-Passw0rd!"
UPLOAD_BYTES_PER_SECOND = 1_000_000
FILE_INPUT = '.vf-uploader input[name="files[]"]'


@pytest.fixture
def staff_site(browser, settings, tmp_path):
    """gunicorn and a worker sharing this test's database, media and upload folders; a staff login."""
    if not (BUNDLES / "uploader.js").exists():
        pytest.skip("The admin's bundles are missing; build them with: npm ci && npm run build")
    settings.VIDEO_UPLOAD_DIR.mkdir()
    staff = UserFactory(email="staff@example.com", password=PASSWORD, is_staff=True, is_superuser=True)
    env = live_env(
        settings,
        ALLOWED_HOSTS="127.0.0.1",
        VIDEO_UPLOAD_DIR=settings.VIDEO_UPLOAD_DIR,
        VIDEO_RUNGS="120p,360p,480p",
        VIDEO_HLS_SEGMENT_SECONDS=2,
    )
    with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path):
        network = Relay(web.url, upload_rate=UPLOAD_BYTES_PER_SECOND)
        try:
            yield network.url, logged_in(browser, network.url, staff.email), network
        finally:
            network.close()


def logged_in(browser, url: str, email: str, **options):
    """A browser context with a staff member logged into the admin through its login page."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, **options)
    login = context.new_page()
    login.goto(f"{url}/admin/login/")
    login.fill("#id_username", email)
    login.fill("#id_password", PASSWORD)
    login.click("input[type=submit]")
    login.wait_for_url(f"{url}/admin/")
    login.close()
    return context


def screenshot(page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def throttled_add_page(context, url: str):
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    devtools.send("Network.enable")
    devtools.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 5,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
        },
    )
    page.goto(f"{url}/admin/video/video/add/")
    page.wait_for_selector(FILE_INPUT, state="attached")
    return page


def received(upload_dir: Path) -> int:
    """Bytes the server holds of the one upload in progress."""
    parts = list(upload_dir.glob("*.part"))
    return parts[0].stat().st_size if len(parts) == 1 else 0


# The server appends what it reads in COPY_CHUNK_BYTES pieces, about one a second at the throttled
# rate: the file only counts as settled when it has not grown for longer than that.
QUIET_SECONDS = COPY_CHUNK_BYTES / UPLOAD_BYTES_PER_SECOND + 2


def settled(upload_dir: Path) -> int:
    """The server's offset once it stops growing (the closed page's request has ended)."""
    last, since = received(upload_dir), time.monotonic()
    while time.monotonic() - since < QUIET_SECONDS:
        time.sleep(0.25)
        if (now := received(upload_dir)) != last:
            last, since = now, time.monotonic()
    return last


def test_an_upload_resumes_after_the_page_is_closed_becomes_ready_and_plays_in_the_preview(
    staff_site, settings, tmp_path
):
    url, context, _ = staff_site
    film = make_clip(tmp_path / "Long film.mp4", width=854, height=480, seconds=30)
    size = film.stat().st_size
    category = CategoryFactory(name="Drama")
    upload_dir = Path(settings.VIDEO_UPLOAD_DIR)

    first = throttled_add_page(context, url)
    first.set_input_files(FILE_INPUT, str(film))
    started = time.monotonic()
    assert wait_until(lambda: received(upload_dir) > size * 0.15, timeout=60, interval=0.05), "no upload"
    first.close()
    held = settled(upload_dir)
    assert 0 < held < size, f"the whole file arrived in {time.monotonic() - started:.1f}s: not throttled"

    second = throttled_add_page(context, url)
    requests = []
    second.on("request", lambda request: requests.append((request.method, request.url, request.headers)))
    second.set_input_files(FILE_INPUT, str(film))
    second.wait_for_selector('.vf-uploader[data-state="accepted"]', timeout=120_000)

    uploads = [(method, headers) for method, address, headers in requests if "/uploads/" in address]
    assert "POST" not in [method for method, _ in uploads], "a new upload was created instead of resuming"
    patches = [headers for method, headers in uploads if method == "PATCH"]
    resumed_at = int(patches[0]["upload-offset"])
    assert held <= resumed_at < size  # resumed where the server stopped, not at zero
    sent_after_resume = size - resumed_at
    assert sent_after_resume < size
    part = next(upload_dir.glob("*.part"))
    assert hashlib.sha256(part.read_bytes()).hexdigest() == hashlib.sha256(film.read_bytes()).hexdigest()

    second.fill("#id_title", "Resumed film")
    second.evaluate(
        "(id) => document.getElementById('id_category').add(new Option('Drama', id, true, true))", category.pk
    )
    second.click("input[name=_continue]")
    second.wait_for_selector("#vf-status", state="attached")
    listed = context.new_page()
    listed.goto(f"{url}/admin/video/video/")
    video = Video.objects.get(title="Resumed film")
    assert video.original_filename == "Long film.mp4"
    assert (
        hashlib.sha256(Path(video.source.path).read_bytes()).digest()
        == hashlib.sha256(film.read_bytes()).digest()
    )

    second.wait_for_function(
        "document.querySelector('.field-status .readonly').textContent.trim() === 'Ready'", timeout=180_000
    )
    shown = second.evaluate("window.vfStatus.progress")
    assert any(0 < value < 100 for value in shown), f"the progress bar did not move: {shown}"
    assert shown[-1] == 100 and shown == sorted(shown)
    screenshot(second, "upload-ready")
    # The list updates by itself too.
    listed.wait_for_function(
        "document.querySelector('#result_list td.field-status').textContent.trim() === 'Ready'",
        timeout=60_000,
    )
    assert listed.locator("#result_list td.field-progress_display progress").get_attribute("value") == "100"
    screenshot(listed, "list-ready")

    second.reload()
    rungs = second.locator(".vf-preview-rungs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.rung)")
    assert rungs == ["120p", "360p", "480p"]
    second.evaluate("document.getElementById('vf-preview-video').play()")
    second.wait_for_function("document.getElementById('vf-preview-video').currentTime > 1.5", timeout=60_000)
    played = second.evaluate("window.vfPreview")
    assert played["errors"] == [] and played["fragments"] > 0
    assert second.locator("#vf-preview-rung option").count() == 4  # automatic and three rungs
    screenshot(second, "preview-playing")


def test_a_text_file_renamed_mp4_is_refused_on_the_page_with_the_servers_sentence(
    staff_site, settings, tmp_path
):
    url, context, _ = staff_site
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"Dear staff, this is a text file.\n" * 200)

    page = throttled_add_page(context, url)
    page.set_input_files(FILE_INPUT, str(text))
    page.wait_for_selector('.vf-uploader[data-state="refused"]', timeout=60_000)

    message = page.locator(".vf-upload-message")
    assert message.is_visible() and message.bounding_box()["width"] > 300
    assert "could not be read as a video" in message.text_content()
    assert page.locator("input[name=_save]").is_disabled()
    assert list(Path(settings.VIDEO_UPLOAD_DIR).iterdir()) == []
    screenshot(page, "refused-text-file")


def test_an_upload_can_be_paused_resumed_and_cancelled_which_removes_it_on_the_server(
    staff_site, settings, tmp_path
):
    url, context, _ = staff_site
    film = make_clip(tmp_path / "film.mp4", width=854, height=480, seconds=20)
    upload_dir = Path(settings.VIDEO_UPLOAD_DIR)

    page = throttled_add_page(context, url)
    page.set_input_files(FILE_INPUT, str(film))
    assert wait_until(lambda: received(upload_dir) > 0, timeout=60)
    page.click('button[title="Pause upload"]')
    paused_at = settled(upload_dir)
    time.sleep(2)
    assert received(upload_dir) == paused_at < film.stat().st_size  # nothing is sent while paused
    page.click('button[title="Resume upload"]')
    assert wait_until(lambda: received(upload_dir) > paused_at, timeout=30)

    page.click("button.uppy-DashboardContent-back")  # "Cancel": tus termination (DELETE)
    assert wait_until(lambda: not any(upload_dir.iterdir()), timeout=30), list(upload_dir.iterdir())
    assert page.get_attribute(".vf-uploader", "data-state") == ""
    assert page.locator("input[name=_save]").is_disabled()


def test_without_javascript_the_plain_source_field_uploads_the_film(staff_site, browser, tmp_path):
    url, _, _ = staff_site
    film = make_clip(tmp_path / "Plain film.mp4", width=320, height=180, seconds=3)
    category = CategoryFactory(name="Comedy")
    context = logged_in(browser, url, "staff@example.com", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{url}/admin/video/video/add/")

    assert page.locator("input[type=file][name=source]").is_visible()
    assert page.locator(".vf-uploader").inner_html() == ""  # nothing mounted it
    page.fill("#id_title", "Plain film")
    page.set_input_files("input[type=file][name=source]", str(film))
    # The category field is the admin's autocomplete, which needs JavaScript to offer choices; the
    # option a choice would add is added from outside the page.
    page.evaluate(
        "(id) => document.getElementById('id_category').add(new Option('Comedy', id, true, true))",
        category.pk,
    )
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r".*/admin/video/video/\d+/change/"))

    video = Video.objects.get(title="Plain film")
    assert video.original_filename == "Plain film.mp4"
    assert Path(video.source.path).read_bytes() == film.read_bytes()
    screenshot(page, "plain-form-saved")


def test_an_upload_survives_a_dropped_network_without_the_file_being_chosen_again(
    staff_site, settings, tmp_path
):
    url, context, network = staff_site
    film = make_clip(tmp_path / "film.mp4", width=854, height=480, seconds=10)
    upload_dir = Path(settings.VIDEO_UPLOAD_DIR)
    page = throttled_add_page(context, url)
    patches = []
    page.on(
        "request",
        lambda request: request.method == "PATCH" and patches.append(int(request.headers["upload-offset"])),
    )
    page.set_input_files(FILE_INPUT, str(film))
    assert wait_until(lambda: received(upload_dir) > film.stat().st_size * 0.15, timeout=60, interval=0.05)
    network.unplug()
    held = settled(upload_dir)
    time.sleep(1)  # tus-js-client's first retries meet a dead network
    network.plug()

    page.wait_for_selector('.vf-uploader[data-state="accepted"]', timeout=120_000)
    assert 0 < held < film.stat().st_size
    assert patches[0] == 0 and held in patches[1:]  # after the drop it went on from the server's offset
    assert next(upload_dir.glob("*.part")).read_bytes() == film.read_bytes()


def test_the_list_shows_progress_bars_and_the_failure_reason(staff_site):
    url, context, _ = staff_site
    VideoFactory(title="Being transcoded", status=Video.Status.PROCESSING, progress=37)
    VideoFactory(
        title="Broken", status=Video.Status.FAILED, error="The source could not be decoded.\nffmpeg: …"
    )

    page = context.new_page()
    page.goto(f"{url}/admin/video/video/")
    page.wait_for_selector("#result_list .vf-failure")

    rows = {
        row.locator("th.field-title").text_content(): row
        for row in page.locator("#result_list tbody tr").all()
    }
    assert rows["Broken"].locator(".vf-failure").text_content() == "The source could not be decoded."
    assert rows["Being transcoded"].locator("progress").get_attribute("value") == "37"
    assert rows["Being transcoded"].locator("td.field-status").text_content().strip() == "Processing"
    screenshot(page, "list-progress-and-failure")
