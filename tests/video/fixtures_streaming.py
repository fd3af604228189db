"""HLS output and clients for the catalogue and streaming tests (import the fixtures explicitly).

The files are written here, in the layout the pipeline produces
(MEDIA_ROOT/hls/<id>/master.m3u8, <rung>/index.m3u8, <rung>/000.ts ...), so these tests do not
depend on the transcoding code.
"""

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test.client import RequestFactory
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory, VideoFactory
from video.models import Video

SEGMENT_BYTES = 4096


def segment_payload(rung: str, index: int, size: int = SEGMENT_BYTES) -> bytes:
    """Distinct, recognisable bytes for every segment."""
    seed = f"{rung}-{index:03d}|".encode()
    return (seed * (size // len(seed) + 1))[:size]


def write_hls(video: Video, rungs=("360p", "480p"), segments: int = 3, size: int = SEGMENT_BYTES) -> Path:
    """Hand-written playlists and small segments for ``video``; returns its HLS folder."""
    root = Path(settings.MEDIA_ROOT) / "hls" / str(video.pk)
    root.mkdir(parents=True, exist_ok=True)
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for rung in rungs:
        height = int(rung[:-1])
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={height * 2000},RESOLUTION={height * 16 // 9}x{height}"]
        master += [f"{rung}/index.m3u8"]
        folder = root / rung
        folder.mkdir(exist_ok=True)
        playlist = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4", "#EXT-X-MEDIA-SEQUENCE:0"]
        for index in range(segments):
            name = f"{index:03d}.ts"
            (folder / name).write_bytes(segment_payload(rung, index, size))
            playlist += ["#EXTINF:4.000000,", name]
        playlist.append("#EXT-X-ENDLIST")
        (folder / "index.m3u8").write_text("\n".join(playlist) + "\n")
    (root / "master.m3u8").write_text("\n".join(master) + "\n")
    return root


def write_thumbnail(name: str = "thumbnails/poster.jpg") -> str:
    from PIL import Image

    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 18), (200, 30, 30)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return name


def cookie_client(user) -> APIClient:
    client = APIClient()
    client.cookies["access_token"] = str(AccessToken.for_user(user))
    return client


def bearer_client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def hls_video(db):
    """A ready video with 360p and 480p rungs of three small segments each."""
    video = VideoFactory(rungs=["360p", "480p"], duration=12.0)
    write_hls(video)
    return video


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def ffmpeg_hls_video(db):
    """A ready video whose 120p rung is real HLS written by ffmpeg (2 s test pattern, 1 s segments)."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required for the streaming tests")
    video = VideoFactory(rungs=["120p"], duration=2.0)
    folder = Path(settings.MEDIA_ROOT) / "hls" / str(video.pk) / "120p"
    folder.mkdir(parents=True)
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
            "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-f", "hls",
            "-hls_time", "1", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(folder / "%03d.ts"), str(folder / "index.m3u8"),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    (folder.parent / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=150000,RESOLUTION=160x120\n120p/index.m3u8\n"
    )
    return video


class RecordingFileWrapper:
    """Stands in for gunicorn's wsgi.file_wrapper and records what sendfile would be handed:
    the descriptor and its offset when the response was built."""

    def __init__(self, filelike, block_size=8192):
        self.filelike = filelike
        self.fileno = filelike.fileno()
        self.offset = os.lseek(self.fileno, 0, os.SEEK_CUR)

    def __iter__(self):
        return iter(lambda: self.filelike.read(8192), b"")

    def close(self):
        self.filelike.close()


def call_wsgi(application, path: str, method: str = "GET", **environ) -> tuple[int, dict, bytes, object]:
    """Run one request through a WSGI ``application`` in-process, with RecordingFileWrapper as
    the server's file wrapper. Returns the status, the headers (lower-case names), the body and
    the iterable the application returned."""
    request_environ = RequestFactory().generic(method, path).environ
    request_environ.update(
        {"HTTP_HOST": "testserver", "wsgi.file_wrapper": RecordingFileWrapper, "wsgi.input": io.BytesIO()}
    )
    request_environ.update(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in response_headers}

    # As Django's test client does: keep the test's database connection across the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(request_environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body, result
