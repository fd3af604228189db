"""The viewer's path in a real browser with MEDIA_STORAGE=s3: Chromium plays with hls.js (the SPA's
defaults, `withCredentials`) from a page on the SPA's own origin; playlists come from gunicorn,
segment bytes from SeaweedFS through the shipped nginx front, which answers the page's origin with
credentials (what SeaweedFS alone does not). Once for a ready film, once for a film a real RQ
worker is still encoding and uploading under a version while it plays (its playlists read from
the bucket afresh while it grows)."""

import contextlib

import pytest

from tests.e2e.test_viewer_browser import (  # noqa: F401 - browser and spa are fixtures
    PAGE,
    PASSWORD,
    _call,
    browser,
    play_while_encoding,
    ready_video,
    spa,
    video_with_source,
)
from tests.factories import UserFactory
from tests.support import gunicorn, live_env, make_clip, rq_worker, wait_until
from tests.support.nginx import nginx_missing, store_front
from video.models import Video
from video.pipeline import services
from video.pipeline.ffmpeg import probe

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(nginx_missing() is not None, reason=str(nginx_missing())),
]


@contextlib.contextmanager
def store_site(settings, tmp_path, s3_media, spa, **extra):  # noqa: F811
    """The store front and gunicorn for the SPA's origin; yields (front host, web)."""
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
            **extra,
        )
        with gunicorn(env, tmp_path) as web:
            (folder / "index.html").write_text(PAGE % {"api": f"{web.url}/api"})
            yield front, web, env


def logged_in_page(browser, spa, viewer):  # noqa: F811
    page = browser.new_page()
    page.goto(f"{spa[1]}/index.html")
    logged_in = _call(page, "POST", "/login/", {"email": viewer.email, "password": PASSWORD})
    assert logged_in["status"] == 200
    return page


def test_a_logged_in_viewer_plays_480p_with_segments_from_the_store_front(
    browser,  # noqa: F811
    spa,  # noqa: F811
    s3_media,
    settings,
    tmp_path,
):
    video = ready_video(settings, tmp_path)
    viewer = UserFactory(password=PASSWORD)

    with store_site(settings, tmp_path, s3_media, spa) as (front, _, _):
        page = logged_in_page(browser, spa, viewer)
        page.evaluate("(id) => window.play(id)", video.pk)
        page.wait_for_function("document.getElementById('player').currentTime > 1.5", timeout=60_000)
        played = page.evaluate("window.played")
        page.screenshot(path=str(tmp_path / "playing-s3.png"))

    assert played["errors"] == [], played
    prefix = f"http://{front}/{s3_media.bucket}/hls/{video.pk}/{video.hls_version}/480p/000.ts?"
    assert played["fragments"][0].startswith(prefix)
    assert all("X-Amz-Signature=" in url for url in played["fragments"])


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
    encoding = {"VIDEO_RUNGS": "120p,480p", "VIDEO_HLS_SEGMENT_SECONDS": "4", "VIDEO_X264_PRESET": "slow"}
    with (
        store_site(settings, tmp_path, s3_media, spa, **encoding) as (front, _, env),
        rq_worker(env, tmp_path, queues=("transcode",)) as worker,
    ):
        video = video_with_source(clip, "Still encoding")
        services.video_save(video=video, probe=probe.ProbeResult.from_dict(video.source_probe))
        assert wait_until(Video.objects.filter(pk=video.pk, playable=True).exists, timeout=120), worker.log()

        page = logged_in_page(browser, spa, viewer)
        watched = play_while_encoding(page, video.pk, seconds=seconds)
        page.screenshot(path=str(tmp_path / "played-while-encoding-s3.png"))

    video.refresh_from_db()
    first, played = watched.first_level, watched.played
    assert first["live"] is True and first["seconds"] < seconds  # still encoding
    assert watched.start < 4  # from 0, not the edge
    assert played["errors"] == [], played
    assert watched.position == pytest.approx(seconds, abs=0.5)
    assert played["levels"][-1]["live"] is False
    prefix = f"http://{front}/{s3_media.bucket}/hls/{video.pk}/{video.hls_version}/480p/000.ts?"
    assert played["fragments"][0].startswith(prefix)
    assert video.status == Video.Status.READY
