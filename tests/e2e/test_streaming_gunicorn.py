"""Segments through a real gunicorn, as the image runs it (gthread, core.wsgi with the fast path)."""

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory, VideoFactory
from tests.support import gunicorn, live_env
from tests.video.fixtures_streaming import segment_payload, write_hls

pytestmark = pytest.mark.django_db(transaction=True)
SIZE = 256 * 1024


def test_segments_stream_over_one_kept_alive_connection_with_the_right_answers(settings, tmp_path):
    user = UserFactory()
    video = VideoFactory(renditions=["360p", "480p"], duration=12.0)
    write_hls(video, size=SIZE)
    prefix = f"/api/video/{video.pk}/480p"
    with (
        gunicorn(live_env(settings, ALLOWED_HOSTS="127.0.0.1"), tmp_path) as web,
        requests.Session() as player,
    ):
        player.headers["Authorization"] = f"Bearer {AccessToken.for_user(user)}"
        for index in range(3):
            answer = player.get(f"{web.url}{prefix}/{index:03d}.ts", timeout=10)
            assert answer.status_code == 200
            assert answer.headers["Content-Type"] == "video/MP2T"
            assert answer.headers["Content-Length"] == str(SIZE)
            assert answer.headers["Cache-Control"] == "private, max-age=3600"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.content == segment_payload("480p", index, SIZE)
            assert answer.headers.get("Connection", "keep-alive").lower() != "close"

        ranged = player.get(f"{web.url}{prefix}/001.ts", headers={"Range": "bytes=10-19"}, timeout=10)
        assert ranged.status_code == 206
        assert ranged.content == segment_payload("480p", 1, SIZE)[10:20]

        anonymous = requests.get(f"{web.url}{prefix}/001.ts", timeout=10)
        assert anonymous.status_code == 401
        assert set(anonymous.json()) == {"detail", "errors"}
        unlisted = player.get(f"{web.url}{prefix}/009.ts", timeout=10)
        assert unlisted.status_code == 404 and unlisted.json()["detail"]


def test_a_deactivated_viewer_is_refused_at_once_without_the_cache(settings, tmp_path):
    user = UserFactory()
    video = VideoFactory(renditions=["480p"], duration=12.0)
    write_hls(video, rungs=("480p",))
    url_path = f"/api/video/{video.pk}/480p/000.ts"
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
    with gunicorn(
        live_env(settings, ALLOWED_HOSTS="127.0.0.1", HLS_FAST_PATH_CACHE_SECONDS="0"), tmp_path
    ) as web:
        assert requests.get(web.url + url_path, headers=headers, timeout=10).status_code == 200
        user.is_active = False
        user.save(update_fields=["is_active"])
        refused = requests.get(web.url + url_path, headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/json"
