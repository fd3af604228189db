"""A film still encoding with MEDIA_STORAGE=s3, in a real browser: Chromium with hls.js (the SPA's
defaults, `withCredentials`) on the SPA's own origin; a real RQ worker encodes and uploads under a
version while the film plays; playlists come from gunicorn (read from the bucket afresh while the
film grows), segment bytes from SeaweedFS through the shipped nginx front."""

import pytest
from django.core.files import File

from tests.e2e.test_viewer_browser import PAGE, _call, browser, spa  # noqa: F401 - fixtures
from tests.factories import CategoryFactory, UserFactory
from tests.support import gunicorn, live_env, make_clip, rq_worker, wait_until
from tests.support.nginx import nginx_missing, store_front
from video.models import Video
from video.pipeline import services
from video.pipeline.ffmpeg import probe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "Sturdy-Passw0rd!"


@pytest.mark.skipif(nginx_missing() is not None, reason=str(nginx_missing()))
def test_a_film_still_encoding_plays_from_the_store_from_0_to_its_real_end(
    browser,  # noqa: F811
    spa,  # noqa: F811
    s3_media,
    settings,
    tmp_path,
):
    seconds = 32
    clip = make_clip(tmp_path / "film.mp4", width=854, height=480, seconds=seconds)
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
            VIDEO_RUNGS="120p,480p",
            VIDEO_HLS_SEGMENT_SECONDS="4",
            VIDEO_X264_PRESET="slow",
        )
        with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path, queues=("transcode",)) as worker:
            video = Video(title="Still encoding", category=CategoryFactory(name="Drama"))
            checked = probe.probe(clip)
            video.source_probe = checked.as_dict()
            with open(clip, "rb") as handle:
                video.source.save("film.mp4", File(handle), save=False)
            services.video_save(video=video, probe=checked)
            assert wait_until(Video.objects.filter(pk=video.pk, playable=True).exists, timeout=120), (
                worker.log()
            )

            (folder / "index.html").write_text(PAGE % {"api": f"{web.url}/api"})
            page = browser.new_page()
            page.goto(f"{origin}/index.html")
            logged_in = _call(page, "POST", "/login/", {"email": viewer.email, "password": PASSWORD})
            assert logged_in["status"] == 200
            page.evaluate("(id) => window.play(id)", video.pk)
            page.wait_for_function("window.played.levels.length > 0", timeout=30_000)
            first = page.evaluate("window.played.levels[0]")
            assert first["live"] is True and first["seconds"] < seconds  # still encoding
            page.wait_for_function(
                f"document.getElementById('player').currentTime > {first['seconds'] + 2}",
                timeout=(seconds + 30) * 1000,
            )
            page.wait_for_function("window.played.ended", timeout=(seconds + 30) * 1000)
            played = page.evaluate("window.played")
            position = page.evaluate("document.getElementById('player').currentTime")
            page.screenshot(path=str(tmp_path / "played-while-encoding-s3.png"))

    video.refresh_from_db()
    assert played["errors"] == [], played
    assert position == pytest.approx(seconds, abs=0.5)
    assert played["levels"][-1]["live"] is False
    prefix = f"http://{front}/{s3_media.bucket}/hls/{video.pk}/{video.hls_version}/480p/000.ts?"
    assert played["fragments"][0].startswith(prefix)
    assert video.status == Video.Status.READY
