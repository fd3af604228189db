"""A viewer's whole path in a real browser, as the Videoflix SPA takes it (../shared/API.md).

Debian's Chromium, driven by Playwright, opens a page served from another origin (the SPA's role)
that calls the API with `fetch(..., {credentials: "include"})` and plays with hls.js
(`withCredentials`), against a real gunicorn (core.wsgi, with the signed segment handler) and a
real RQ worker that sends the activation email (Django's console backend, read from its log).
Screenshots of the final state go to tmp_path.
"""

import re
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files import File

from tests.factories import CategoryFactory, UserFactory
from tests.support import BASE_DIR, gunicorn, live_env, make_clip, rq_worker, wait_until
from video.models import Video
from video.pipeline import services, transcode
from video.pipeline.ffmpeg import probe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HLS_JS = BASE_DIR / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PASSWORD = "Sturdy-Passw0rd!"
SPA_PORT = 5500
PAGE = """<!doctype html><html><body><video id="player" muted></video>
<script src="hls.min.js"></script>
<script>
const API = "%(api)s";
window.played = {fragments: [], errors: []};
window.call = async (method, path, body, headers) => {
  const response = await fetch(API + path, {method, credentials: "include",
    headers: {"Content-Type": "application/json", ...(headers || {})},
    body: body == null ? undefined : JSON.stringify(body)});
  return {status: response.status, body: await response.json()};
};
window.play = (videoId) => {
  const hls = new Hls();
  hls.config.xhrSetup = (xhr) => { xhr.withCredentials = true; };
  hls.on(Hls.Events.FRAG_LOADED, (event, data) => window.played.fragments.push(data.frag.url));
  window.played.levels = [];
  hls.on(Hls.Events.LEVEL_LOADED, (event, data) => window.played.levels.push(
    {live: data.details.live, seconds: data.details.totalduration, at: performance.now()}));
  window.played.ended = false;
  document.getElementById("player").addEventListener("ended", () => { window.played.ended = true; });
  // Fatal errors only: hls.js also reports what it recovers from itself (a stall under load,
  // a nudge over a gap between the first audio and video timestamps).
  hls.on(Hls.Events.ERROR, (event, data) => { if (data.fatal) window.played.errors.push(data.details); });
  hls.loadSource(`${API}/video/${videoId}/480p/index.m3u8`);
  hls.attachMedia(document.getElementById("player"));
  document.getElementById("player").play();
};
window.csrfToken = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1];
</script></body></html>"""


@pytest.fixture
def browser(browser):
    if not HLS_JS.exists():
        pytest.skip("hls.js is missing; install it with: npm ci")
    return browser


@pytest.fixture
def spa(tmp_path):
    """A folder served on its own loopback origin, standing in for the SPA's host
    (http://127.0.0.1:5500 when that port is free)."""
    folder = tmp_path / "spa"
    folder.mkdir()
    (folder / "hls.min.js").write_bytes(HLS_JS.read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    try:  # the SPA's own origin (the default of CORS_ALLOWED_ORIGINS), unless something holds it
        server = ThreadingHTTPServer(("127.0.0.1", SPA_PORT), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def video_with_source(clip, title: str) -> Video:
    """A row with the clip as its stored source (where MEDIA_STORAGE says) and its probe, not yet
    saved."""
    video = Video(title=title, category=CategoryFactory(name="Drama"))
    video.source_probe = probe.probe(clip).as_dict()
    with open(clip, "rb") as handle:
        video.source.save(clip.name, File(handle), save=False)
    return video


def ready_video(settings, tmp_path) -> Video:
    """A film transcoded by the real pipeline into 120p and 480p (12 s, 4 s segments), in the
    storage MEDIA_STORAGE says; returned as stored once ready."""
    settings.VIDEO_RUNGS = ["120p", "480p"]
    clip = make_clip(tmp_path / "film.mp4", width=854, height=480, seconds=12)
    video = video_with_source(clip, "Played in a browser")
    video.job_id = "browser"
    video.save()
    assert transcode.video_transcode(video_id=video.pk, job_id="browser") == Video.Status.READY
    video.refresh_from_db()
    return video


def activation_link(worker_log: str) -> tuple[str, str] | None:
    """uid and token of the activation email, as the worker's console email backend printed it."""
    match = re.search(r"\?uid=([A-Za-z0-9_-]+)&token=([A-Za-z0-9_-]+)", worker_log)
    return (match[1], match[2]) if match else None


def test_a_viewer_registers_activates_logs_in_plays_480p_from_the_start_and_logs_out(
    browser, spa, settings, tmp_path
):
    video = ready_video(settings, tmp_path)
    folder, origin = spa
    env = live_env(
        settings,
        ALLOWED_HOSTS="127.0.0.1",
        CORS_ALLOWED_ORIGINS=origin,
        CSRF_TRUSTED_ORIGINS=origin,
        FRONTEND_URL=origin,
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
    )
    with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path) as worker:
        (folder / "index.html").write_text(PAGE % {"api": f"{web.url}/api"})
        page = browser.new_page()
        page.goto(f"{origin}/index.html")
        call = partial(_call, page)

        account = {"email": "viewer@example.com", "password": PASSWORD}
        registered = call(
            "POST", "/register/", {**account, "confirmed_password": PASSWORD, "privacy_policy": "on"}
        )
        assert registered["status"] == 201 and registered["body"]["user"]["email"] == account["email"]
        assert wait_until(lambda: activation_link(worker.log()), timeout=60), worker.log()
        uid, token = activation_link(worker.log())
        assert call("GET", f"/activate/{uid}/{token}/")["body"] == {
            "message": "Account successfully activated."
        }
        logged_in = call("POST", "/login/", account)
        assert logged_in["status"] == 200 and logged_in["body"]["user"]["username"] == account["email"]

        listed = call("GET", "/video/")
        assert listed["status"] == 200 and [item["id"] for item in listed["body"]] == [video.pk]
        page.evaluate("(id) => window.play(id)", video.pk)
        page.wait_for_function("document.getElementById('player').currentTime > 1.5", timeout=60_000)
        played = page.evaluate("window.played")
        assert played["errors"] == [], played
        assert played["fragments"][0].startswith(f"{web.url}/api/video/{video.pk}/480p/000.ts?exp=")
        assert all("&sig=" in url for url in played["fragments"])
        page.screenshot(path=str(tmp_path / "playing.png"))

        csrf = page.evaluate("window.csrfToken()")
        assert csrf, "login set no readable csrftoken cookie"
        logged_out = call("POST", "/logout/", None, {"X-CSRFToken": csrf})
        assert logged_out["status"] == 200, logged_out
        refused = call("GET", "/video/")
        assert refused["status"] == 401 and refused["body"]["detail"]


def _call(page, method: str, path: str, body=None, headers=None) -> dict:
    """One fetch from the page, as the SPA makes it; its status and JSON body."""
    return page.evaluate("(args) => window.call(...args)", [method, path, body, headers or {}])


@dataclass
class WatchedWhileEncoding:
    first_level: dict  # the first playlist hls.js loaded: {live, seconds, at}
    start: float  # the position just after playback began
    played: dict  # window.played at the end
    position: float  # the position at the end


def play_while_encoding(page, video_id: int, *, seconds: float) -> WatchedWhileEncoding:
    """Play a `seconds`-long film the worker is still encoding, as the page's viewer: wait for the
    first playlist, for playback to begin, for it to pass by two seconds what that first playlist
    held, and for the end; returns what was seen on the way."""
    position = "document.getElementById('player').currentTime"
    page.evaluate("(id) => window.play(id)", video_id)
    page.wait_for_function("window.played.levels.length > 0", timeout=30_000)
    first_level = page.evaluate("window.played.levels[0]")
    page.wait_for_function(f"{position} > 0.5", timeout=30_000)
    start = page.evaluate(position)
    page.wait_for_function(f"{position} > {first_level['seconds'] + 2}", timeout=(seconds + 30) * 1000)
    page.wait_for_function("window.played.ended", timeout=(seconds + 30) * 1000)
    return WatchedWhileEncoding(
        first_level=first_level,
        start=start,
        played=page.evaluate("window.played"),
        position=page.evaluate(position),
    )


def test_a_film_still_encoding_plays_from_0_past_what_existed_at_the_start_to_its_real_end(
    browser, spa, settings, tmp_path
):
    """hls.js with the SPA's configuration (the defaults) on a growing EVENT playlist: it starts at
    0 (EXT-X-START), keeps reloading while the worker encodes, and plays on to the end."""
    seconds = 36
    clip = make_clip(tmp_path / "long.mp4", width=854, height=480, seconds=seconds)
    UserFactory(email="viewer@example.com", password=PASSWORD)
    folder, origin = spa
    env = live_env(
        settings,
        ALLOWED_HOSTS="127.0.0.1",
        CORS_ALLOWED_ORIGINS=origin,
        CSRF_TRUSTED_ORIGINS=origin,
        VIDEO_RUNGS="120p,480p",
        VIDEO_HLS_SEGMENT_SECONDS="4",
        VIDEO_X264_PRESET="slow",  # keeps the encoder busy for a good part of the film
    )
    with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path, queues=("transcode",)) as worker:
        video = video_with_source(clip, "Still encoding")
        services.video_save(video=video, probe=probe.ProbeResult.from_dict(video.source_probe))
        playable = Video.objects.filter(pk=video.pk, playable=True)
        assert wait_until(playable.exists, timeout=120), worker.log()

        (folder / "index.html").write_text(PAGE % {"api": f"{web.url}/api"})
        page = browser.new_page()
        page.goto(f"{origin}/index.html")
        assert (
            _call(page, "POST", "/login/", {"email": "viewer@example.com", "password": PASSWORD})["status"]
            == 200
        )
        listed = _call(page, "GET", "/video/")["body"]
        assert [(item["id"], item["ready"]) for item in listed] == [(video.pk, False)]
        watched = play_while_encoding(page, video.pk, seconds=seconds)
        first, played = watched.first_level, watched.played
        assert first["live"] is True and first["seconds"] < seconds  # still encoding
        assert watched.start < 4  # from 0, not the edge
        assert played["errors"] == [], played
        assert watched.position == pytest.approx(seconds, abs=0.5)  # the real end
        assert played["fragments"][0].startswith(f"{web.url}/api/video/{video.pk}/480p/000.ts?exp=")
        assert len(played["levels"]) > 1 and played["levels"][-1]["live"] is False  # reloaded to ENDLIST
        assert Video.objects.get(pk=video.pk).status == Video.Status.READY
        page.screenshot(path=str(tmp_path / "played-while-encoding.png"))
