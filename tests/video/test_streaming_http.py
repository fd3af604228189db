"""HTTP behaviour of playlists, segments and thumbnails with credentials: Range, 304, caching, sendfile."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.utils.http import http_date
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import VideoFactory
from tests.video import fixtures_streaming
from tests.video.fixtures_streaming import (
    SEGMENT_BYTES,
    RecordingFileWrapper,
    call_wsgi,
    segment_payload,
    write_thumbnail,
)

hls_video = fixtures_streaming.hls_video


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def segment_url(hls_video):
    return f"/api/video/{hls_video.pk}/480p/001.ts"


@pytest.fixture
def segment_bytes():
    return segment_payload("480p", 1)


# --- Range ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, SEGMENT_BYTES - 1),
        ("bytes=-50", SEGMENT_BYTES - 50, SEGMENT_BYTES - 1),
        ("bytes=4000-999999", 4000, SEGMENT_BYTES - 1),
        ("bytes=7-7", 7, 7),
    ],
)
def test_range_request_answers_206_with_exactly_those_bytes(
    bearer_client, segment_url, segment_bytes, header, first, last
):
    response = bearer_client.get(segment_url, HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SEGMENT_BYTES}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Content-Type"] == "video/MP2T"
    assert body(response) == segment_bytes[first : last + 1]


@pytest.mark.django_db
@pytest.mark.parametrize("header", [f"bytes={SEGMENT_BYTES}-", "bytes=999999-1000000", "bytes=-0"])
def test_unsatisfiable_range_answers_json_416(bearer_client, segment_url, header):
    response = bearer_client.get(segment_url, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SEGMENT_BYTES}"
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "items=0-5", "bytes=abc", "bytes=9-3", "bytes=-"])
def test_multi_range_or_malformed_range_answers_the_whole_file(
    bearer_client, segment_url, segment_bytes, header
):
    response = bearer_client.get(segment_url, HTTP_RANGE=header)
    assert response.status_code == 200
    assert body(response) == segment_bytes


@pytest.mark.django_db
def test_if_range_with_the_current_etag_honours_the_range_and_a_stale_one_sends_everything(
    bearer_client, segment_url, segment_bytes
):
    etag = bearer_client.get(segment_url)["ETag"]
    fresh = bearer_client.get(segment_url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert fresh.status_code == 206
    assert body(fresh) == segment_bytes[:10]
    stale = bearer_client.get(segment_url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"stale"')
    assert stale.status_code == 200
    assert body(stale) == segment_bytes


# --- Conditional requests and caching headers -------------------------------------------------


@pytest.mark.django_db
def test_head_answers_the_headers_without_a_body(bearer_client, segment_url):
    response = bearer_client.head(segment_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "video/MP2T"
    assert response["Content-Length"] == str(SEGMENT_BYTES)
    assert body(response) == b""


@pytest.mark.django_db
def test_segment_carries_validators_and_private_cache_control(bearer_client, segment_url, settings):
    settings.HLS_CACHE_MAX_AGE = 1234
    response = bearer_client.get(segment_url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=1234"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Last-Modified"].endswith("GMT")


@pytest.mark.django_db
def test_if_none_match_with_the_current_etag_answers_304_without_a_body(bearer_client, segment_url):
    first = bearer_client.get(segment_url)
    again = bearer_client.get(segment_url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"].startswith("private, max-age=")


@pytest.mark.django_db
def test_if_modified_since_not_older_than_the_file_answers_304(bearer_client, segment_url):
    last_modified = bearer_client.get(segment_url)["Last-Modified"]
    assert bearer_client.get(segment_url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304


@pytest.mark.django_db
def test_changed_file_gets_a_new_etag_and_a_full_answer(bearer_client, hls_video, segment_url):
    old_etag = bearer_client.get(segment_url)["ETag"]
    path = Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk) / "480p" / "001.ts"
    path.write_bytes(b"new bytes")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    response = bearer_client.get(
        segment_url, HTTP_IF_NONE_MATCH=old_etag, HTTP_IF_MODIFIED_SINCE=http_date(stat.st_mtime - 10)
    )
    assert response.status_code == 200
    assert response["ETag"] != old_etag
    assert body(response) == b"new bytes"


@pytest.mark.django_db
def test_if_match_with_another_etag_answers_json_412(bearer_client, segment_url):
    response = bearer_client.get(segment_url, HTTP_IF_MATCH='"something-else"')
    assert response.status_code == 412
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_conditional_headers_do_not_bypass_authentication(api_client, segment_url):
    response = api_client.get(segment_url, HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 401


@pytest.mark.django_db
def test_cors_lets_the_spa_read_segments_with_credentials(bearer_client, segment_url):
    response = bearer_client.get(segment_url, HTTP_ORIGIN="http://127.0.0.1:5500")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:5500"
    assert response["Access-Control-Allow-Credentials"] == "true"


# --- Sendfile ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("range_header", "offset", "length"), [(None, 0, SEGMENT_BYTES), ("bytes=1000-1999", 1000, 1000)]
)
def test_under_a_wsgi_server_the_file_goes_to_wsgi_file_wrapper_at_the_range_offset(
    user, hls_video, segment_bytes, range_header, offset, length
):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}
    if range_header:
        headers["HTTP_RANGE"] = range_header

    _, answer, body, result = call_wsgi(WSGIHandler(), f"/api/video/{hls_video.pk}/480p/001.ts", **headers)

    assert isinstance(result, RecordingFileWrapper)
    # What gunicorn's sendfile uses: a real descriptor positioned at the first byte, and
    # Content-Length bytes to send from there.
    assert result.offset == offset
    assert int(answer["content-length"]) == length
    assert isinstance(result.fileno, int)
    assert body == segment_bytes[offset : offset + length]


@pytest.mark.django_db
def test_names_are_checked_after_authentication_and_answer_json_404(api_client, bearer_client, hls_video):
    assert api_client.get(f"/api/video/{hls_video.pk}/480p/000.ts").status_code == 401
    for path in (
        f"/api/video/{hls_video.pk}/480p/..%2F..%2Fsecret.ts",
        f"/api/video/{hls_video.pk}/480p/009.ts",
        f"/api/video/{hls_video.pk}/720p/index.m3u8",
        f"/api/video/{hls_video.pk + 1000}/master.m3u8",
    ):
        response = bearer_client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")


# --- Thumbnails -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_thumbnail_is_public_in_every_mode(client, settings, debug):
    settings.DEBUG = debug
    name = write_thumbnail("thumbnails/abc123.jpg")
    response = client.get(f"/media/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("public, max-age=")
    assert body(response) == (Path(settings.MEDIA_ROOT) / name).read_bytes()
    assert client.get(f"/media/{name}", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/media/thumbnails/missing.jpg",
        "/media/thumbnails/..%2Fsecret.jpg",
        "/media/thumbnails/%2e%2e/secret.jpg",
        "/media/thumbnails/..%5Csecret.jpg",
        "/media/thumbnails/page.html",
        "/media/thumbnails/image.svg",
        "/media/thumbnails/.hidden.jpg",
        "/media/thumbnails/a%00.jpg",
        "/media/thumbnails/link.jpg",
        "/media/sources/film.mp4",
        "/media/hls/1/480p/000.ts",
    ],
)
def test_thumbnail_route_serves_nothing_else(client, tmp_path, path):
    root = Path(settings.MEDIA_ROOT)
    write_thumbnail("secret.jpg")
    (root / "thumbnails").mkdir(exist_ok=True)
    (root / "thumbnails" / "page.html").write_text("<script>alert(1)</script>")
    (root / "thumbnails" / "image.svg").write_text("<svg/>")
    (root / "thumbnails" / ".hidden.jpg").write_bytes(b"x")
    os.symlink(root / "secret.jpg", root / "thumbnails" / "link.jpg")
    (root / "sources").mkdir()
    (root / "sources" / "film.mp4").write_bytes(b"source")
    response = client.get(path)
    assert response.status_code == 404


@pytest.mark.django_db
def test_listed_thumbnail_url_loads_without_credentials(bearer_client, api_client):
    from django.core.files.base import ContentFile

    video = VideoFactory()
    write_thumbnail("thumbnails/tmp.jpg")
    video.thumbnail.save(
        "poster.jpg", ContentFile((Path(settings.MEDIA_ROOT) / "thumbnails/tmp.jpg").read_bytes())
    )
    url = bearer_client.get("/api/video/").json()[0]["thumbnail_url"]
    assert url.startswith("http://testserver/media/thumbnails/")
    response = api_client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
