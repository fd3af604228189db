"""A hostile upload corpus through the real admin form and a real RQ worker process.

Every file ends with a readable refusal on the form, or with a video that is ready or failed with
its reason; the worker survives all of them; nothing is left on disk once the rows are gone.
"""

import os
import struct
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.factories import CategoryFactory
from tests.support import django_env, ffmpeg, make_clip, manage
from video.models import Video
from video.pipeline.services import video_delete

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(transaction=True)]

ADD_URL = "/admin/video/video/add/"


def top_level_atoms(data: bytes) -> list[tuple[bytes, int, int]]:
    atoms, position = [], 0
    while position + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        atoms.append((kind, position, size))
        if size < 8:
            break
        position += size
    return atoms


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[str, bytes]]:
    """name -> (uploaded file name, bytes)."""
    folder = tmp_path_factory.mktemp("hostile")
    clip = folder / "clip.mp4"
    make_clip(clip, width=320, height=180, seconds=2)
    faststart = folder / "faststart.mp4"
    ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(faststart))
    ten_hours = folder / "ten-hours.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=s=16x16:r=1:d=36000",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "600", "-movflags", "+faststart", str(ten_hours),
    )  # fmt: skip
    audio = folder / "audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", str(audio))
    still = folder / "still.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180", "-frames:v", "1", str(still))
    eight_k = folder / "eight-k.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=7680x4320:r=25:d=0.08",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(eight_k),
    )
    one_frame = folder / "one-frame.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25", "-frames:v", "1", "-c:v", "libx264", str(one_frame)
    )

    clip_bytes = clip.read_bytes()
    broken_moov = bytearray(faststart.read_bytes())
    _, moov_at, moov_size = next(atom for atom in top_level_atoms(bytes(broken_moov)) if atom[0] == b"moov")
    broken_moov[moov_at + 16 : moov_at + moov_size] = os.urandom(moov_size - 16)
    ten_hour_data = ten_hours.read_bytes()
    _, moov_at, moov_size = next(atom for atom in top_level_atoms(ten_hour_data) if atom[0] == b"moov")

    return {
        "empty": ("empty.mp4", b""),
        "text": ("notes.mp4", b"These are not the films you are looking for.\n" * 20),
        "truncated": ("truncated.mp4", clip_bytes[: len(clip_bytes) // 3]),
        "broken-moov": ("broken.mp4", bytes(broken_moov)),
        "audio-only": ("song.mp4", audio.read_bytes()),
        "still-image": ("poster.png", still.read_bytes()),
        "ten-hour-header": ("ten-hours.mp4", ten_hour_data[: moov_at + moov_size]),
        "8k": ("eight-k.mp4", eight_k.read_bytes()),
        "one-frame": ("one-frame.mp4", one_frame.read_bytes()),
        "traversal-unicode-name": ("../../../etc/évil ☃ film.mp4", clip_bytes),
    }


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_every_hostile_upload_is_refused_or_ends_ready_or_failed_and_leaves_nothing(
    client, staff_user, corpus, settings, tmp_path
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # the larger files stream to disk
    settings.VIDEO_RUNGS = ["120p", "360p", "1080p"]
    media_root = Path(settings.MEDIA_ROOT)
    category = CategoryFactory(name="Hostile")
    client.force_login(staff_user)

    refused, accepted = {}, {}
    for name, (filename, data) in corpus.items():
        response = client.post(
            ADD_URL,
            {
                "title": name,
                "description": "",
                "category": category.pk,
                "source": SimpleUploadedFile(filename, data, content_type="video/mp4"),
            },
        )
        if response.status_code == 200:
            errors = response.context["adminform"].form.errors
            assert "source" in errors, (name, errors)
            message = " ".join(errors["source"])
            assert message.endswith(".") and len(message) > 15, (name, message)
            refused[name] = message
        else:
            assert response.status_code == 302, (name, response.status_code)
            accepted[name] = Video.objects.get(title=name)

    # Files that cannot be films never reach the database or the disk.
    for name in ("empty", "text", "truncated", "broken-moov", "audio-only", "still-image", "ten-hour-header"):
        assert name in refused, f"{name} was accepted"
    assert set(Video.objects.values_list("title", flat=True)) == set(accepted)
    assert files_under(Path(settings.FILE_UPLOAD_TEMP_DIR)) == []
    sources = {video.source.name for video in accepted.values()}
    assert {str(path.relative_to(media_root)) for path in files_under(media_root)} == sources

    name_test = accepted["traversal-unicode-name"]
    assert name_test.source.name.startswith("sources/")
    assert ".." not in name_test.source.name
    assert Path(name_test.source.path).resolve().is_relative_to(media_root.resolve())
    assert "/" not in name_test.original_filename and ".." not in name_test.original_filename.split("/")

    # A real worker process takes every accepted upload and survives all of them.
    env = django_env(
        DB_NAME=connection.settings_dict["NAME"],
        MEDIA_ROOT=media_root,
        VIDEO_RUNGS="120p,360p,1080p",
        VIDEO_TRANSCODE_RETRIES=0,
    )
    worker = manage(env, "rqworker", "transcode", "--burst", timeout=600, check=False)
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]

    for name, video in accepted.items():
        video.refresh_from_db()
        assert video.status in (Video.Status.READY, Video.Status.FAILED), (name, video.status)
        hls = media_root / "hls" / str(video.pk)
        if video.status == Video.Status.FAILED:
            assert len(video.error) > 15, (name, video.error)
            assert not hls.exists(), name
        else:
            assert (hls / "master.m3u8").is_file(), name
            assert video.rungs, name
    assert accepted["traversal-unicode-name"].status == Video.Status.READY
    assert accepted["8k"].rungs[-1:] in (["1080p"], []), accepted["8k"].rungs
    assert list((media_root / "hls").glob(".tmp-*")) == []

    for video in accepted.values():
        video_delete(video=video)
    assert files_under(media_root) == []
