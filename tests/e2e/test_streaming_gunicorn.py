"""Playlists and signed segments through a real gunicorn, as the image runs it (core.wsgi: the
signed segment handler in front of Django)."""

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory, VideoFactory
from tests.support import gunicorn, live_env
from tests.video.fixtures_streaming import segment_payload, write_hls

pytestmark = pytest.mark.django_db(transaction=True)
SIZE = 256 * 1024


def signed_uris(web, video, headers) -> list[str]:
    playlist = requests.get(f"{web.url}/api/video/{video.pk}/480p/index.m3u8", headers=headers, timeout=10)
    assert playlist.status_code == 200
    return [line for line in playlist.text.splitlines() if line and not line.startswith("#")]


def test_signed_segments_stream_over_one_kept_alive_connection_with_no_credentials(settings, tmp_path):
    user = UserFactory()
    video = VideoFactory(rungs=["360p", "480p"], duration=12.0)
    write_hls(video, size=SIZE)
    prefix = f"/api/video/{video.pk}/480p"
    with (
        gunicorn(live_env(settings, ALLOWED_HOSTS="127.0.0.1"), tmp_path) as web,
        requests.Session() as player,
    ):
        uris = signed_uris(web, video, {"Authorization": f"Bearer {AccessToken.for_user(user)}"})
        for index, uri in enumerate(uris):
            answer = player.get(f"{web.url}{prefix}/{uri}", timeout=10)
            assert answer.status_code == 200
            assert answer.headers["Content-Type"] == "video/MP2T"
            assert answer.headers["Content-Length"] == str(SIZE)
            assert answer.headers["Cache-Control"] == "private, max-age=3600"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.content == segment_payload("480p", index, SIZE)
            assert answer.headers.get("Connection", "keep-alive").lower() != "close"

        ranged = player.get(f"{web.url}{prefix}/{uris[1]}", headers={"Range": "bytes=10-19"}, timeout=10)
        assert ranged.status_code == 206
        assert ranged.content == segment_payload("480p", 1, SIZE)[10:20]

        tampered = player.get(f"{web.url}{prefix}/{uris[1].replace('001.ts', '002.ts')}", timeout=10)
        assert tampered.status_code == 403 and set(tampered.json()) == {"detail", "errors"}
        anonymous = requests.get(f"{web.url}{prefix}/001.ts", timeout=10)
        assert anonymous.status_code == 401
        assert set(anonymous.json()) == {"detail", "errors"}


def test_a_deactivated_viewer_gets_no_new_playlist_and_keeps_signed_urls_until_they_expire(
    settings, tmp_path
):
    user = UserFactory()
    video = VideoFactory(rungs=["480p"], duration=12.0)
    write_hls(video, rungs=("480p",))
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
    with gunicorn(live_env(settings, ALLOWED_HOSTS="127.0.0.1"), tmp_path) as web:
        uris = signed_uris(web, video, headers)
        user.is_active = False
        user.save(update_fields=["is_active"])
        refused = requests.get(f"{web.url}/api/video/{video.pk}/480p/index.m3u8", headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/json"
        unsigned = requests.get(f"{web.url}/api/video/{video.pk}/480p/000.ts", headers=headers, timeout=10)
        assert unsigned.status_code == 401
        # What docs/STREAMING.md says revocation means: URLs already signed work until their expiry.
        assert requests.get(f"{web.url}/api/video/{video.pk}/480p/{uris[0]}", timeout=10).status_code == 200
