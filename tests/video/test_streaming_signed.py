"""Signed segment URLs: the rung playlist signs its segment URIs for the viewer, and the handler in
front of Django (video.streaming.signed) answers them with no token check and no query."""

import json
import os
import time
from urllib.parse import parse_qs

import pytest
from django.core.wsgi import get_wsgi_application

from tests.video import fixtures_streaming
from tests.video.fixtures_streaming import bearer_client_for, call_wsgi, cookie_client, segment_payload
from video.streaming import signing
from video.streaming.signed import SignedSegments

SPA = "http://127.0.0.1:5500"
hls_video = fixtures_streaming.hls_video
other_user = fixtures_streaming.other_user


@pytest.fixture
def application():
    return SignedSegments(get_wsgi_application())


def signed_uris(client, video, rung="480p") -> list[str]:
    response = client.get(f"/api/video/{video.pk}/{rung}/index.m3u8")
    assert response.status_code == 200
    return [line for line in response.content.decode().splitlines() if line and not line.startswith("#")]


def segment_url(video, uri: str, rung="480p") -> str:
    return f"/api/video/{video.pk}/{rung}/{uri}"


def with_query(uri: str, **changes) -> str:
    name, _, query = uri.partition("?")
    values = {key: value[0] for key, value in parse_qs(query).items()} | changes
    return name + "?" + "&".join(f"{key}={value}" for key, value in values.items())


@pytest.mark.django_db
def test_the_rung_playlist_signs_every_segment_for_the_viewer(user, hls_video):
    uris = signed_uris(cookie_client(user), hls_video)
    assert [uri.partition("?")[0] for uri in uris] == ["000.ts", "001.ts", "002.ts"]
    for uri in uris:
        query = parse_qs(uri.partition("?")[2])
        assert query["uid"] == [str(user.pk)]
        assert int(query["exp"][0]) >= time.time() + 8 * 3600 - 1
        assert len(query["sig"][0]) == 43  # base64url of an HMAC-SHA256, no padding


@pytest.mark.django_db
def test_a_signed_url_fetches_the_segment_with_no_cookie_and_no_header(user, hls_video, application):
    uri = signed_uris(bearer_client_for(user), hls_video)[1]
    status, headers, body, _ = call_wsgi(application, segment_url(hls_video, uri))
    assert status == 200
    assert body == segment_payload("480p", 1)
    assert headers["content-type"] == "video/MP2T"
    assert headers["content-length"] == str(len(body))
    assert headers["cache-control"] == "private, max-age=3600"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.django_db
def test_the_trailing_slash_form_is_answered_too(user, hls_video, application):
    uri = signed_uris(cookie_client(user), hls_video)[0]
    name, _, query = uri.partition("?")
    assert call_wsgi(application, segment_url(hls_video, f"{name}/?{query}"))[0] == 200


@pytest.mark.django_db
def test_a_signed_segment_makes_no_database_query(user, hls_video, application, django_assert_num_queries):
    uri = signed_uris(cookie_client(user), hls_video)[0]
    with django_assert_num_queries(0):
        status, _, body, _ = call_wsgi(application, segment_url(hls_video, uri))
    assert status == 200 and body == segment_payload("480p", 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda video, uri: segment_url(video, uri, rung="360p"), id="other-rung"),
        pytest.param(
            lambda video, uri: segment_url(video, "002.ts?" + uri.partition("?")[2]), id="other-segment"
        ),
        pytest.param(lambda video, uri: f"/api/video/{video.pk + 1}/480p/{uri}", id="other-video"),
        pytest.param(lambda video, uri: segment_url(video, with_query(uri, uid="999999")), id="other-user"),
        pytest.param(
            lambda video, uri: segment_url(video, with_query(uri, exp="9999999999")), id="longer-expiry"
        ),
        pytest.param(
            lambda video, uri: segment_url(video, with_query(uri, sig="A" * 43)), id="other-signature"
        ),
        pytest.param(lambda video, uri: segment_url(video, with_query(uri, sig="")), id="empty-signature"),
        pytest.param(lambda video, uri: segment_url(video, uri + "&sig=again"), id="signature-twice"),
        pytest.param(lambda video, uri: segment_url(video, with_query(uri, uid="0" + "7")), id="padded-user"),
    ],
)
def test_changing_any_signed_part_answers_json_403(user, hls_video, application, tamper):
    uri = signed_uris(cookie_client(user), hls_video)[1]
    status, headers, body, _ = call_wsgi(application, tamper(hls_video, uri))
    assert status == 403
    assert headers["content-type"] == "application/json"
    assert "expired" in json.loads(body)["detail"] and json.loads(body)["errors"] == {}


@pytest.mark.django_db
def test_an_expired_signature_answers_403(user, hls_video, application, settings):
    key = signing.signing_key()
    expires = int(time.time()) - 1
    query = signing.sign_query(
        key, video_id=hls_video.pk, rung="480p", segment="000.ts", user_id=user.pk, expires=expires
    )
    assert call_wsgi(application, segment_url(hls_video, f"000.ts?{query}"))[0] == 403
    fresh = int(time.time()) + 60
    query = signing.sign_query(
        key, video_id=hls_video.pk, rung="480p", segment="000.ts", user_id=user.pk, expires=fresh
    )
    assert call_wsgi(application, segment_url(hls_video, f"000.ts?{query}"))[0] == 200


@pytest.mark.django_db
def test_a_signature_made_with_another_key_is_refused(user, hls_video, application):
    query = signing.sign_query(
        b"another key", video_id=hls_video.pk, rung="480p", segment="000.ts", user_id=user.pk, expires=2**40
    )
    assert call_wsgi(application, segment_url(hls_video, f"000.ts?{query}"))[0] == 403


@pytest.mark.django_db
def test_without_a_signature_credentials_decide(user, hls_video, application):
    status, headers, body, _ = call_wsgi(application, segment_url(hls_video, "000.ts"))
    assert status == 401 and headers["content-type"] == "application/json" and json.loads(body)["detail"]
    client = bearer_client_for(user)
    response = client.get(segment_url(hls_video, "000.ts"))
    assert response.status_code == 200 and b"".join(response.streaming_content) == segment_payload("480p", 0)


@pytest.mark.django_db
def test_cors_lets_the_spa_read_signed_segments_with_credentials(user, hls_video, application):
    uri = signed_uris(cookie_client(user), hls_video)[0]
    _, headers, _, _ = call_wsgi(application, segment_url(hls_video, uri), HTTP_ORIGIN=SPA)
    assert headers["access-control-allow-origin"] == SPA
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["vary"] == "Origin"
    _, headers, _, _ = call_wsgi(application, segment_url(hls_video, uri), HTTP_ORIGIN="http://evil.example")
    assert "access-control-allow-origin" not in headers
    status, headers, _, _ = call_wsgi(
        application, segment_url(hls_video, with_query(uri, sig="x")), HTTP_ORIGIN=SPA
    )
    assert status == 403 and headers["access-control-allow-origin"] == SPA  # the SPA can read the reason


@pytest.mark.django_db
def test_signed_segments_answer_range_and_304(user, hls_video, application):
    url = segment_url(hls_video, signed_uris(cookie_client(user), hls_video)[2])
    status, headers, body, wrapper = call_wsgi(application, url, HTTP_RANGE="bytes=100-199")
    assert status == 206 and body == segment_payload("480p", 2)[100:200]
    assert headers["content-range"] == "bytes 100-199/4096" and wrapper.offset == 100
    status, _, body, _ = call_wsgi(application, url, HTTP_IF_NONE_MATCH=headers["etag"])
    assert status == 304 and body == b""
    status, _, body, _ = call_wsgi(application, url, HTTP_RANGE="bytes=9000-")
    assert status == 416 and json.loads(body)["detail"]
    status, headers, body, _ = call_wsgi(application, url, method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "4096"


@pytest.mark.django_db
def test_a_signed_url_never_follows_a_symlink(user, hls_video, application, tmp_path):
    secret = tmp_path / "secret.ts"
    secret.write_bytes(b"private bytes")
    segment = hls_video_folder(hls_video) / "480p" / "001.ts"
    segment.unlink()
    os.symlink(secret, segment)
    uri = signed_uris(cookie_client(user), hls_video)[1]
    status, _, body, _ = call_wsgi(application, segment_url(hls_video, uri))
    assert status == 404 and b"private" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "000.ts%00", "..\\000.ts", "0000.ts", "000.ts.."])
def test_names_outside_the_pattern_are_never_answered_by_the_signed_handler(
    user, hls_video, application, name
):
    query = signed_uris(cookie_client(user), hls_video)[0].partition("?")[2]
    status, _, body, _ = call_wsgi(application, segment_url(hls_video, f"{name}?{query}"))
    assert status in (401, 404)  # passed to Django: no route, or credentials needed first
    assert json.loads(body)["detail"] and b"root:" not in body


@pytest.mark.django_db
def test_the_playlist_is_the_same_within_a_window_and_answers_304(user, hls_video):
    client = cookie_client(user)
    first = client.get(f"/api/video/{hls_video.pk}/480p/index.m3u8")
    again = client.get(f"/api/video/{hls_video.pk}/480p/index.m3u8", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert client.get(f"/api/video/{hls_video.pk}/480p/index.m3u8").content == first.content


@pytest.mark.django_db
def test_each_viewer_gets_their_own_signatures(user, other_user, hls_video):
    mine = signed_uris(cookie_client(user), hls_video)
    theirs = signed_uris(cookie_client(other_user), hls_video)
    assert [uri.partition("?")[0] for uri in mine] == [uri.partition("?")[0] for uri in theirs]
    assert set(mine).isdisjoint(theirs)


def hls_video_folder(video):
    from video import layout

    return layout.video_dir(video.pk)
