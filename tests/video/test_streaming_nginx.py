"""The shipped nginx/videoflix.conf in front of Django (x-accel mode), with a real nginx.

nginx runs the shipped file with its volume paths, ports and upstream rewritten to this test's
media folder and Django's live server, so what is checked here is the configuration Compose
mounts.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory, VideoFactory
from tests.video.fixtures_streaming import segment_payload, write_hls, write_thumbnail

BASE_DIR = Path(__file__).resolve().parents[2]
SPA = "http://127.0.0.1:5500"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def nginx_url(live_server, tmp_path, settings):
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    settings.HLS_SERVE_MODE = "x-accel"
    settings.HLS_ACCEL_AUTH_CACHE_SECONDS = 10
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.0123abcd.css").write_text("body { color: black; }")
    work = tmp_path / "nginx"
    for folder in ("tmp", "cache"):
        (work / folder).mkdir(parents=True)
    port = _free_port()
    upstream = urlparse(live_server.url).port
    site = (
        (BASE_DIR / "nginx" / "videoflix.conf")
        .read_text()
        .replace("server web:8000;", f"server 127.0.0.1:{upstream};")
        .replace("/var/run/", f"{work}/")
        .replace("/var/cache/nginx/", f"{work}/cache/")
        .replace("/app/media/", f"{settings.MEDIA_ROOT}/")
        .replace("/app/static/", f"{static}/")
        .replace("listen [::]:80;", "")
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
    )
    user = "user root;" if os.geteuid() == 0 else ""
    config = work / "nginx.conf"
    config.write_text(
        f"""{user}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 128; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
{site}
}}
"""
    )
    process = subprocess.Popen(
        ["nginx", "-c", str(config), "-p", str(work), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def fetch(url: str, headers: dict | None = None):
    """(status, headers, body) without raising on 4xx/3xx."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def streamed(transactional_db):
    user = UserFactory()
    video = VideoFactory(renditions=["480p"])
    write_hls(video, rungs=("480p",))
    return video, {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def test_nginx_sends_the_segment_django_authorised(nginx_url, streamed):
    video, auth = streamed
    for _ in range(2):  # a fresh, then a cached authorisation
        status, headers, body = fetch(f"{nginx_url}/api/video/{video.pk}/480p/001.ts", auth | {"Origin": SPA})
        assert status == 200
        assert body == segment_payload("480p", 1)
        assert headers["Content-Type"] == "video/MP2T"
        assert headers["Cache-Control"].startswith("private, max-age=")
        assert headers["Access-Control-Allow-Origin"] == SPA
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert not any(name.lower().startswith("x-accel") for name in headers)


def test_nginx_answers_range_and_304_for_the_file(nginx_url, streamed):
    video, auth = streamed
    url = f"{nginx_url}/api/video/{video.pk}/480p/000.ts"
    status, headers, body = fetch(url, auth | {"Range": "bytes=10-19"})
    assert status == 206
    assert body == segment_payload("480p", 0)[10:20]
    assert headers["Content-Range"].startswith("bytes 10-19/")
    status, _, _ = fetch(url, auth | {"If-None-Match": fetch(url, auth)[1]["ETag"]})
    assert status == 304
    status, headers, body = fetch(f"{nginx_url}/api/video/{video.pk}/480p/index.m3u8", auth)
    assert status == 200
    assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert body.startswith(b"#EXTM3U")


def test_nginx_never_serves_hls_without_django_saying_so(nginx_url, streamed):
    video, auth = streamed
    segment = f"{nginx_url}/api/video/{video.pk}/480p/000.ts"
    fetch(segment, auth)  # an authorisation now sits in nginx's cache for this token
    for headers in ({}, {"Authorization": "Bearer forged"}):
        status, answer, body = fetch(segment, headers)
        assert status == 401
        assert answer["Content-Type"].startswith("application/json")
    for path in (
        f"/api/video/{video.pk}/480p/009.ts",
        f"/api/video/{video.pk}/480p/..%2F..%2F{video.pk}/master.m3u8",
        f"/api/video/{video.pk}/720p/index.m3u8",
        f"/protected-hls/{video.pk}/480p/000.ts",
        f"/media/hls/{video.pk}/480p/000.ts",
    ):
        status, _, body = fetch(nginx_url + path, auth)
        assert status == 404, path
        assert not body.startswith(b"\x00") and b"480p-000" not in body


def test_nginx_serves_public_thumbnails_and_static_files_itself(nginx_url, transactional_db):
    name = write_thumbnail("thumbnails/cover.jpg")
    status, headers, body = fetch(f"{nginx_url}/media/{name}")
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == "public, max-age=604800"
    assert body == (Path(settings.MEDIA_ROOT) / name).read_bytes()
    status, headers, _ = fetch(f"{nginx_url}/static/css/app.0123abcd.css")
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    (Path(settings.MEDIA_ROOT) / "sources").mkdir()
    (Path(settings.MEDIA_ROOT) / "sources" / "film.mp4").write_bytes(b"source")
    assert fetch(f"{nginx_url}/media/sources/film.mp4")[0] == 404
    assert fetch(f"{nginx_url}/media/thumbnails/page.html")[0] == 404


def test_nginx_proxies_the_api_with_the_clients_host(nginx_url, streamed):
    video, auth = streamed
    status, headers, body = fetch(f"{nginx_url}/api/video/", auth)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    port = urlparse(nginx_url).port
    [item] = json.loads(body)
    assert item["master_playlist_url"] == f"http://127.0.0.1:{port}/api/video/{video.pk}/master.m3u8"
