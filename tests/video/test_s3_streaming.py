"""Streaming with MEDIA_STORAGE=s3: playlists from the API, segment URIs signed URLs of the store
(directly, or of the shipped nginx front that adds the SPA's CORS answer), a private bucket."""

import re

import pytest
import requests

from tests.support.nginx import nginx_missing, store_front

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SPA_ORIGIN = "http://127.0.0.1:5500"


def segment_urls(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def test_rung_playlist_lists_signed_store_urls_that_send_the_segments(
    bearer_client, s3_ready_video, s3_media
):
    response = bearer_client.get(f"/api/video/{s3_ready_video.pk}/360p/index.m3u8")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    urls = segment_urls(response.content.decode())
    assert len(urls) == 3
    key = f"{s3_media.bucket}/hls/{s3_ready_video.pk}/{s3_ready_video.hls_version}/360p/000.ts"
    assert urls[0].startswith(f"{s3_media.endpoint}/{key}?")
    assert "X-Amz-Signature=" in urls[0] and "X-Amz-Expires=" in urls[0]
    segment = requests.get(urls[0], timeout=10)
    assert segment.status_code == 200
    assert segment.content[:1] == b"G"  # an MPEG-TS sync byte
    again = bearer_client.get(f"/api/video/{s3_ready_video.pk}/360p/index.m3u8")
    assert again.content == response.content  # the same bytes within a signing window


def test_the_bucket_is_private_and_a_tampered_signature_is_refused(bearer_client, s3_ready_video, s3_media):
    playlist = bearer_client.get(f"/api/video/{s3_ready_video.pk}/120p/index.m3u8").content.decode()
    url = segment_urls(playlist)[0]

    assert requests.get(url.split("?")[0], timeout=10).status_code == 403
    tampered = re.sub(r"X-Amz-Signature=[0-9a-f]", "X-Amz-Signature=0", url)
    tampered = tampered if tampered != url else url.replace("X-Amz-Signature=0", "X-Amz-Signature=1")
    assert requests.get(tampered, timeout=10).status_code == 403
    other = url.replace("/120p/000.ts?", "/120p/001.ts?")
    assert requests.get(other, timeout=10).status_code == 403


def test_master_playlist_comes_from_the_bucket_and_unknown_rungs_answer_404(bearer_client, s3_ready_video):
    master = bearer_client.get(f"/api/video/{s3_ready_video.pk}/master.m3u8")

    assert master.status_code == 200
    assert "120p/index.m3u8" in master.content.decode() and "360p/index.m3u8" in master.content.decode()
    assert bearer_client.get(f"/api/video/{s3_ready_video.pk}/480p/index.m3u8").status_code == 404
    assert bearer_client.get(f"/api/video/{s3_ready_video.pk + 1}/120p/index.m3u8").status_code == 404


def test_playlists_need_credentials(api_client, s3_ready_video):
    assert api_client.get(f"/api/video/{s3_ready_video.pk}/120p/index.m3u8").status_code == 401
    assert api_client.get(f"/api/video/{s3_ready_video.pk}/120p/000.ts").status_code == 401


def test_a_segment_asked_from_the_api_redirects_to_the_store(bearer_client, s3_ready_video, s3_media):
    response = bearer_client.get(f"/api/video/{s3_ready_video.pk}/120p/001.ts")

    assert response.status_code == 302
    assert response["Location"].startswith(s3_media.endpoint)
    assert requests.get(response["Location"], timeout=10).status_code == 200


def test_thumbnail_url_loads_without_credentials_by_a_redirect(bearer_client, s3_ready_video, live_server):
    listed = bearer_client.get("/api/video/").json()
    thumbnail = listed[0]["thumbnail_url"]
    assert thumbnail == f"http://testserver/media/{s3_ready_video.thumbnail.name}"

    image = requests.get(live_server.url + thumbnail.removeprefix("http://testserver"), timeout=10)

    assert image.status_code == 200
    assert image.content[:2] == b"\xff\xd8"  # JPEG
    assert image.history and image.history[0].status_code == 302


@pytest.mark.skipif(nginx_missing() is not None, reason=str(nginx_missing()))
def test_segments_through_the_nginx_front_answer_the_spa_origin_with_credentials(
    bearer_client, s3_ready_video, s3_media, settings, tmp_path
):
    upstream = s3_media.endpoint.removeprefix("http://")
    with store_front(tmp_path / "front", upstream=upstream) as front:
        settings.AWS_S3_CUSTOM_DOMAIN = front
        playlist = bearer_client.get(f"/api/video/{s3_ready_video.pk}/360p/index.m3u8").content.decode()
        url = segment_urls(playlist)[0]
        assert url.startswith(f"http://{front}/{s3_media.bucket}/hls/")

        answer = requests.get(url, headers={"Origin": SPA_ORIGIN}, timeout=10)
        assert answer.status_code == 200 and answer.content[:1] == b"G"
        assert answer.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        stranger = requests.get(url, headers={"Origin": "http://evil.example"}, timeout=10)
        assert "Access-Control-Allow-Origin" not in stranger.headers
        preflight = requests.options(
            url, headers={"Origin": SPA_ORIGIN, "Access-Control-Request-Headers": "range"}, timeout=10
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
        assert requests.get(url.split("?")[0], timeout=10).status_code == 403
        assert requests.put(url, data=b"x", timeout=10).status_code == 403
