"""The viewer's path in a real browser with MEDIA_STORAGE=s3: Chromium plays with hls.js
(`withCredentials`) from a page on the SPA's own origin; playlists come from gunicorn, segment
bytes from SeaweedFS through the shipped nginx front, which answers the page's origin with
credentials (what SeaweedFS alone does not)."""

import pytest
from django.core.files import File

from tests.e2e.test_viewer_browser import PAGE, _call, browser, spa  # noqa: F401 - fixtures
from tests.factories import CategoryFactory, UserFactory
from tests.support import gunicorn, live_env, make_clip
from tests.support.nginx import nginx_missing, store_front
from video.models import Video
from video.pipeline import transcode
from video.pipeline.ffmpeg import probe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "Sturdy-Passw0rd!"


@pytest.mark.skipif(nginx_missing() is not None, reason=str(nginx_missing()))
def test_a_logged_in_viewer_plays_480p_with_segments_from_the_store_front(
    browser,  # noqa: F811
    spa,  # noqa: F811
    s3_media,
    settings,
    tmp_path,
):
    settings.VIDEO_RUNGS = ["120p", "480p"]
    clip = make_clip(tmp_path / "film.mp4", width=854, height=480, seconds=12)
    video = Video(title="Played from the bucket", category=CategoryFactory(name="Drama"), job_id="s3-browser")
    video.source_probe = probe.probe(clip).as_dict()
    with open(clip, "rb") as handle:
        video.source.save("film.mp4", File(handle), save=False)
    video.save()
    assert transcode.video_transcode(video_id=video.pk, job_id="s3-browser") == Video.Status.READY
    video.refresh_from_db()
    viewer = UserFactory(password=PASSWORD)
    folder, origin = spa

    upstream = s3_media.endpoint.removeprefix("http://")
    with store_front(tmp_path / "front", upstream=upstream, origins=(origin,)) as front:
        env = live_env(
            settings,
            **s3_media.env(s3_media.bucket),
            AWS_S3_CUSTOM_DOMAIN=front,
            AWS_S3_URL_PROTOCOL="http:",
            ALLOWED_HOSTS="127.0.0.1",
            CORS_ALLOWED_ORIGINS=origin,
            CSRF_TRUSTED_ORIGINS=origin,
        )
        with gunicorn(env, tmp_path) as web:
            (folder / "index.html").write_text(PAGE % {"api": f"{web.url}/api"})
            page = browser.new_page()
            page.goto(f"{origin}/index.html")
            logged_in = _call(page, "POST", "/login/", {"email": viewer.email, "password": PASSWORD})
            assert logged_in["status"] == 200
            page.evaluate("(id) => window.play(id)", video.pk)
            page.wait_for_function("document.getElementById('player').currentTime > 1.5", timeout=60_000)
            played = page.evaluate("window.played")
            page.screenshot(path=str(tmp_path / "playing-s3.png"))

    assert played["errors"] == [], played
    prefix = f"http://{front}/{s3_media.bucket}/hls/{video.pk}/{video.hls_version}/480p/000.ts?"
    assert played["fragments"][0].startswith(prefix)
    assert all("X-Amz-Signature=" in url for url in played["fragments"])
