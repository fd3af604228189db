"""Schemathesis runs the OpenAPI schema against the live app (gunicorn), with and without a
Bearer token: no 5xx answer, and every answer conforms to the schema (status, content type,
headers, body)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import PASSWORD
from tests.factories import UserFactory, VideoFactory
from tests.support import django_env, ffmpeg, gunicorn, http_get, http_post_json, rq_worker

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(transaction=True)]

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def write_hls(media_root: Path, video_id: int, rungs: list[str]) -> None:
    """A tiny but real HLS set (one segment per rung) where the streaming views look for it."""
    root = media_root / "hls" / str(video_id)
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for rung in rungs:
        rung_dir = root / rung
        rung_dir.mkdir(parents=True)
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc2=s=160x90:d=1:r=10",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "10",
            "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(rung_dir / "%03d.ts"), str(rung_dir / "index.m3u8"),
            timeout=60,
        )  # fmt: skip
        master += [
            '#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x90,CODECS="avc1.42c00c"',
            f"{rung}/index.m3u8",
        ]
    (root / "master.m3u8").write_text("\n".join(master) + "\n")


@pytest.fixture
def live_app(tmp_path, settings):
    media_root = Path(settings.MEDIA_ROOT)
    user = UserFactory()
    videos = [VideoFactory(rungs=["360p", "480p"], duration=1.0) for _ in range(3)]
    for video in videos:
        write_hls(media_root, video.id, ["360p", "480p"])
    env = django_env(
        DB_NAME=connection.settings_dict["NAME"],
        MEDIA_ROOT=media_root,
        DEBUG="False",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "fuzz-" + "k" * 60,
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    # A live worker keeps /api/health/ at 200: its 503 is a documented answer, not a crash.
    # gunicorn answers request lines over 4 KB itself (an HTML 414, before any Django code runs);
    # lifting that transport limit lets the fuzzer's huge query strings reach the application.
    with (
        gunicorn(env, tmp_path, extra_args=("--limit-request-line", "0")) as web,
        rq_worker(env, tmp_path, queues=("default",)),
    ):
        status, _ = http_get(web.url + "/api/schema/?format=json")
        assert status == 200
        status, body = http_post_json(web.url + "/api/token/", {"email": user.email, "password": PASSWORD})
        assert status == 200, body
        web.token = json.loads(body)["access"]
        web.video_id = videos[0].id
        yield web


def run_schemathesis(web, tmp_path, *extra: str, config: Path | None = None) -> subprocess.CompletedProcess:
    global_options = ["--config-file", str(config)] if config else []
    return subprocess.run(
        [
            SCHEMATHESIS, *global_options, "run", web.url + "/api/schema/?format=json",
            "--checks", CHECKS,
            "--max-examples", "15",
            "--seed", "20261124",
            "--phases", "examples,coverage,fuzzing",
            "--request-timeout", "20",
            "--no-color",
            "--report", "junit", "--report-dir", str(tmp_path / "schemathesis"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,
    )  # fmt: skip


def test_schema_holds_for_anonymous_clients(live_app, tmp_path):
    result = run_schemathesis(live_app, tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:] + live_app.log()


def test_schema_holds_for_bearer_clients(live_app, tmp_path):
    # Path ids point at a ready video, so playlist and segment names are fuzzed against real files.
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.video_id" = {live_app.video_id}\n')
    result = run_schemathesis(
        live_app, tmp_path, "--header", f"Authorization: Bearer {live_app.token}", config=config
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:] + live_app.log()
