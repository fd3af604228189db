"""The shipped nginx configuration in front of Django, with a real nginx (and its njs module).

nginx runs the shipped files (tests/support/nginx.py rewrites only host-specific values), so what
is checked here is the configuration Compose mounts: nginx checks signed segment URLs itself and
sends the files; everything else, playlists included, goes to Django.
"""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory, VideoFactory
from tests.support.nginx import nginx_missing, shipped_nginx
from tests.video.fixtures_streaming import call_wsgi, segment_payload, write_hls, write_thumbnail
from video.streaming import signing
from video.streaming.signed import SignedSegments

SPA = "http://127.0.0.1:5500"
SIGNING_KEY = "test-signing-key-" + "x" * 40


@pytest.fixture
def nginx_url(live_server, tmp_path, settings):
    reason = nginx_missing()
    if reason:
        pytest.skip(reason)
    settings.HLS_SIGNING_KEY = SIGNING_KEY
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.0123abcd.css").write_text("body { color: black; }")
    upstream = f"127.0.0.1:{urlparse(live_server.url).port}"
    with shipped_nginx(
        tmp_path / "nginx",
        upstream=upstream,
        media_root=settings.MEDIA_ROOT,
        static_root=static,
        signing_key=SIGNING_KEY,
    ) as url:
        yield url


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
    video = VideoFactory(rungs=["480p"])
    write_hls(video, rungs=("480p",))
    return video, user, {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def signed_uris(nginx_url, video, auth) -> list[str]:
    status, headers, body = fetch(f"{nginx_url}/api/video/{video.pk}/480p/index.m3u8", auth)
    assert status == 200 and headers["Content-Type"] == "application/vnd.apple.mpegurl"
    return [line for line in body.decode().splitlines() if line and not line.startswith("#")]


def test_nginx_sends_a_signed_segment_with_no_credentials(nginx_url, streamed):
    video, _, auth = streamed
    uri = signed_uris(nginx_url, video, auth)[1]
    # Django itself (the live server, without the signed handler) would answer 401 here.
    status, headers, body = fetch(f"{nginx_url}/api/video/{video.pk}/480p/{uri}", {"Origin": SPA})
    assert status == 200
    assert body == segment_payload("480p", 1)
    assert headers["Content-Type"] == "video/MP2T"
    assert headers["Cache-Control"] == "private, max-age=3600"
    assert headers["Access-Control-Allow-Origin"] == SPA
    assert headers["Access-Control-Allow-Credentials"] == "true"
    status, headers, _ = fetch(
        f"{nginx_url}/api/video/{video.pk}/480p/{uri}", {"Origin": "http://evil.example"}
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_nginx_answers_range_and_304_for_signed_segments(nginx_url, streamed):
    video, _, auth = streamed
    url = f"{nginx_url}/api/video/{video.pk}/480p/{signed_uris(nginx_url, video, auth)[0]}"
    status, headers, body = fetch(url, {"Range": "bytes=10-19"})
    assert status == 206
    assert body == segment_payload("480p", 0)[10:20]
    assert headers["Content-Range"].startswith("bytes 10-19/")
    status, _, _ = fetch(url, {"If-None-Match": fetch(url)[1]["ETag"]})
    assert status == 304
    # Every answer under /api/ is JSON, nginx's own refusals included.
    for headers, expected in (({"Range": "bytes=999999-"}, 416), ({"If-Match": '"another"'}, 412)):
        status, answer, body = fetch(url, headers)
        assert status == expected
        assert answer["Content-Type"] == "application/json" and json.loads(body)["detail"]


def _tampered(video, uri: str, user) -> dict[str, str]:
    name, _, query = uri.partition("?")
    expired = signing.sign_query(
        SIGNING_KEY.encode(),
        video_id=video.pk,
        rung="480p",
        segment=name,
        user_id=user.pk,
        expires=int(time.time()) - 5,
    )
    missing = signing.sign_query(
        SIGNING_KEY.encode(), video_id=video.pk, rung="480p", segment="009.ts", user_id=user.pk, expires=2**40
    )
    return {
        "valid": f"/api/video/{video.pk}/480p/{uri}",
        "signed-but-missing": f"/api/video/{video.pk}/480p/009.ts?{missing}",
        "slash": f"/api/video/{video.pk}/480p/{name}/?{query}",
        "other-segment": f"/api/video/{video.pk}/480p/002.ts?{query}",
        "other-video": f"/api/video/{video.pk + 1}/480p/{uri}",
        "other-user": f"/api/video/{video.pk}/480p/{name}?{query.replace(f'uid={user.pk}', 'uid=999999')}",
        "signature-twice": f"/api/video/{video.pk}/480p/{uri}&sig=again",
        "empty-signature": f"/api/video/{video.pk}/480p/{name}?{query.rpartition('&sig=')[0]}&sig=",
        "sig-in-another-name": f"/api/video/{video.pk}/480p/{name}?xsig=abc",
        "expired": f"/api/video/{video.pk}/480p/{name}?{expired}",
        "no-signature": f"/api/video/{video.pk}/480p/{name}",
        "missing-file": f"/api/video/{video.pk}/480p/009.ts?{query}",
    }


def test_nginx_and_the_python_handler_judge_signatures_by_one_rule(nginx_url, streamed, settings):
    video, user, auth = streamed
    uri = signed_uris(nginx_url, video, auth)[1]
    python = SignedSegments(get_wsgi_application())
    verdicts = {}
    for case, path in _tampered(video, uri, user).items():
        through_nginx, headers, body = fetch(nginx_url + path)
        assert headers["Content-Type"].startswith(("video/MP2T", "application/json")), case
        verdicts[case] = (through_nginx, call_wsgi(python, path)[0])
    assert verdicts == {
        "valid": (200, 200),
        "signed-but-missing": (404, 404),
        "slash": (200, 200),
        "other-segment": (403, 403),
        "other-video": (403, 403),
        "other-user": (403, 403),
        "signature-twice": (403, 403),
        "empty-signature": (403, 403),
        "sig-in-another-name": (401, 401),  # no signature: Django asks for credentials
        "expired": (403, 403),
        "no-signature": (401, 401),
        "missing-file": (403, 403),  # 009.ts was never signed
    }
    _, _, body = fetch(nginx_url + _tampered(video, uri, user)["expired"])
    assert json.loads(body)["detail"].startswith("This segment link is invalid or has expired")


def test_without_a_signature_django_decides_by_the_credentials(nginx_url, streamed):
    video, _, auth = streamed
    segment = f"{nginx_url}/api/video/{video.pk}/480p/000.ts"
    status, _, body = fetch(segment, auth)
    assert status == 200 and body == segment_payload("480p", 0)
    for headers in ({}, {"Authorization": "Bearer forged"}, {"Cookie": "access_token=letmein"}):
        status, answer, body = fetch(segment, headers)
        assert status == 401
        assert answer["Content-Type"].startswith("application/json")


def test_duplicated_credential_cookies_are_judged_by_django_alone(nginx_url, streamed, client):
    video, user, _ = streamed
    token = str(AccessToken.for_user(user))
    cookie = {"Cookie": f"access_token=; access_token={token}"}
    for path in (f"/api/video/{video.pk}/480p/index.m3u8", f"/api/video/{video.pk}/480p/000.ts"):
        through_nginx = fetch(nginx_url + path, cookie)[0]
        direct = client.get(path, HTTP_COOKIE=cookie["Cookie"]).status_code
        assert through_nginx == direct, path
        # No answer is remembered for anyone: the same URL right after, without credentials or with
        # a made-up cookie (the old authorisation cache keyed on the first, empty cookie), is refused.
        assert fetch(nginx_url + path)[0] == 401
        assert fetch(nginx_url + path, {"Cookie": "access_token="})[0] == 401
        assert fetch(nginx_url + path, {"Cookie": "access_token=letmein"})[0] == 401


def test_nginx_never_serves_hls_files_by_other_paths(nginx_url, streamed):
    video, _, auth = streamed
    for path in (
        f"/api/video/{video.pk}/480p/..%2F..%2F{video.pk}/master.m3u8",
        f"/api/video/{video.pk}/720p/index.m3u8",
        f"/protected-hls/{video.pk}/480p/000.ts",
        f"/media/hls/{video.pk}/480p/000.ts",
    ):
        status, _, body = fetch(nginx_url + path, auth)
        assert status == 404, path
        assert b"480p-000" not in body


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
    video, _, auth = streamed
    status, headers, body = fetch(f"{nginx_url}/api/video/", auth)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    port = urlparse(nginx_url).port
    [item] = json.loads(body)
    assert item["master_playlist_url"] == f"http://127.0.0.1:{port}/api/video/{video.pk}/master.m3u8"


def test_behind_nginx_a_forged_x_forwarded_for_escapes_no_per_client_limit(
    nginx_url, settings, transactional_db
):
    """Security review, finding 7: with NUM_PROXIES=1 Django trusts the address nginx appends,
    whatever the client put in X-Forwarded-For itself."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_ip": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1, "DEFAULT_THROTTLE_RATES": rates}
    statuses = []
    for forged in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "198.51.100.7, 203.0.113.4"):
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            f"{nginx_url}/api/login/",
            data=json.dumps({"email": "nobody@example.com", "password": "wrong"}).encode(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": forged},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    assert statuses == [400, 400, 429, 429]


def test_with_media_in_the_bucket_thumbnails_through_nginx_redirect_to_the_store(
    s3_media, nginx_url, transactional_db
):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    jpeg = b"\xff\xd8\xff\xe0" + b"thumbnail" * 10
    name = default_storage.save("thumbnails/in-bucket.jpg", ContentFile(jpeg))

    status, _, body = fetch(f"{nginx_url}/media/{name}")  # urllib follows the redirect

    assert status == 200 and body == jpeg
    assert fetch(f"{nginx_url}/media/thumbnails/missing.jpg")[0] == 404  # the store's answer
