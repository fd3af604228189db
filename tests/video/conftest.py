"""Fixtures for the video pipeline: tiny media made by real ffmpeg once per session, a small ladder,
an in-process RQ worker, and a film it made ready (in local storage or, with MEDIA_STORAGE=s3, in
the test's bucket).

Streaming tests keep their other fixtures in their modules (or tests/video/fixtures_streaming.py).
"""

import json
import shutil
import subprocess
from pathlib import Path

import django_rq
import pytest
from django.core.files import File
from rq import SimpleWorker

from tests.factories import CategoryFactory
from tests.support import ffmpeg, make_clip
from video import layout
from video.models import Video
from video.pipeline import services

SECONDS = 5


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pipeline-media")


@pytest.fixture(scope="session")
def landscape_clip(media_dir):
    """640x360, 25 fps, with audio: the default ladder gives 120p and 360p."""
    return make_clip(media_dir / "landscape.mp4", width=640, height=360)


@pytest.fixture(scope="session")
def silent_clip(media_dir):
    return make_clip(media_dir / "silent.mp4", width=320, height=180, audio=False)


@pytest.fixture(scope="session")
def portrait_clip(media_dir):
    return make_clip(media_dir / "portrait.mp4", width=360, height=640)


@pytest.fixture(scope="session")
def rotated_clip(media_dir):
    """Stored as 640x360 with a 90° display matrix: shown (and measured) as 360x640."""
    stored = make_clip(media_dir / "rotated-stored.mp4", width=640, height=360)
    rotated = media_dir / "rotated.mp4"
    ffmpeg("-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    return rotated


@pytest.fixture(scope="session")
def odd_clip(media_dir):
    """401x227 (testsrc2 rounds sizes to even numbers; testsrc and 4:4:4 chroma keep them odd)."""
    return make_clip(
        media_dir / "odd.mp4", width=401, height=227, seconds=3, pattern="testsrc", pix_fmt="yuv444p"
    )


@pytest.fixture(scope="session")
def tiny_clip(media_dir):
    """Smaller than the lowest rung (120p)."""
    return make_clip(media_dir / "tiny.mp4", width=96, height=54, seconds=3)


@pytest.fixture(scope="session")
def vfr_clip(media_dir):
    """Variable frame rate: frames dropped irregularly from a 50 fps source, kept with their timestamps."""
    path = media_dir / "vfr.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=50:duration={SECONDS}",
        "-vf", "select='not(mod(n\\,3))+not(mod(n\\,7))'", "-fps_mode", "vfr",
        "-c:v", "libx264", "-preset", "ultrafast", str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def long_clip(media_dir):
    """Long enough to kill a worker in the middle of its transcode."""
    return make_clip(media_dir / "long.mp4", width=640, height=360, seconds=40)


@pytest.fixture(scope="session")
def audio_only_file(media_dir):
    path = media_dir / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(path))
    return path


@pytest.fixture(scope="session")
def truncated_mp4(media_dir, landscape_clip):
    """The first 40% of an MP4 whose index sits at the end: the index is missing."""
    path = media_dir / "truncated.mp4"
    data = landscape_clip.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


@pytest.fixture(scope="session")
def truncated_faststart_mp4(media_dir, landscape_clip):
    """The index is at the front and intact, but the media data stops half-way."""
    faststart = media_dir / "faststart.mp4"
    ffmpeg("-i", str(landscape_clip), "-c", "copy", "-movflags", "+faststart", str(faststart))
    path = media_dir / "truncated-faststart.mp4"
    data = faststart.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(autouse=True)
def _pipeline_settings(settings):
    """The default ladder, short segments and a fast preset keep each transcode to about a second."""
    settings.VIDEO_RUNGS = ["120p", "360p", "480p", "720p", "1080p"]
    settings.VIDEO_HLS_SEGMENT_SECONDS = 2
    settings.VIDEO_X264_PRESET = "veryfast"
    settings.VIDEO_TRANSCODE_RETRIES = 2
    settings.VIDEO_TRANSCODE_RETRY_DELAYS = [0]
    return settings


@pytest.fixture
def make_video(db):
    """A saved row whose source is a copy of `clip` in MEDIA_ROOT (no job queued)."""

    def make(clip: Path, **fields) -> Video:
        category = fields.pop("category", None) or CategoryFactory(name="Drama")
        video = Video(title=fields.pop("title", "A film"), category=category, **fields)
        with open(clip, "rb") as handle:
            video.source.save(clip.name, File(handle), save=False)
        video.job_id = fields.get("job_id", "test-job")
        video.save()
        return video

    return make


@pytest.fixture
def run_worker():
    """Run the transcode queue to empty in this process (sees the test's transaction)."""

    def run() -> None:
        queue = django_rq.get_queue("transcode")
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)

    return run


@pytest.fixture
def transcode_by_worker(make_video, run_worker, django_capture_on_commit_callbacks):
    """Save a row for `clip`, queue its transcode as the upload path does and run the worker here;
    returns the row, asserted ready."""

    def transcode(clip: Path) -> Video:
        video = make_video(clip)
        with django_capture_on_commit_callbacks(execute=True):
            services.video_enqueue_transcode(video=video)
        with django_capture_on_commit_callbacks(execute=True):
            run_worker()
        video.refresh_from_db()
        assert video.status == Video.Status.READY, video.error
        return video

    return transcode


@pytest.fixture
def s3_ready_video(s3_media, transcode_by_worker, landscape_clip):
    """`landscape_clip` made ready (120p and 360p) by the worker with MEDIA_STORAGE=s3: its version
    is in the test's bucket, and none of its HLS files on the web host's disk."""
    video = transcode_by_worker(landscape_clip)
    assert not layout.video_dir(video.pk).exists(), "s3 mode left HLS files on the web host's disk"
    return video


def copy_to(source: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, destination)
    return destination


def keyframe_times(playlist: Path) -> list[float]:
    """Presentation times of the video keyframes across all segments of a media playlist."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
            "-of",
            "csv=p=0",
            str(playlist),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    times = []
    for line in result.stdout.split():
        pts, _, flags = line.partition(",")
        if "K" in flags and pts not in {"", "N/A"}:
            times.append(round(float(pts), 2))
    return sorted(times)


def stream_info(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    streams = json.loads(result.stdout)["streams"]
    return {stream["codec_type"]: stream for stream in streams}


@pytest.fixture
def hls_tools():
    """Helpers to inspect produced HLS: keyframe times and stream info via ffprobe."""

    class Tools:
        keyframes = staticmethod(keyframe_times)
        streams = staticmethod(stream_info)

    return Tools
