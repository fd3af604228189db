"""`manage.py media_to_s3` moves a local library into the bucket: sizes checked, rows switched
only when their objects are in place, resumable and idempotent, and the moved library plays."""

import pytest
import requests
from django.core.management import call_command

from tests.video.test_s3_streaming import segment_urls

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def local_library(transcode_by_worker, landscape_clip):
    """A video transcoded in local mode (files in MEDIA_ROOT)."""
    video = transcode_by_worker(landscape_clip)
    assert video.hls_version == ""
    return video


def test_a_local_library_is_copied_switched_and_plays_from_the_bucket(
    local_library, seaweed, settings, capsys, bearer_client
):
    bucket = "moved-library"
    seaweed.client().create_bucket(Bucket=bucket)
    for name, value in seaweed.env(bucket).items():
        if name != "MEDIA_STORAGE":  # the installation still serves from local storage
            setattr(settings, name, value)

    call_command("media_to_s3")
    first = capsys.readouterr().out
    local_library.refresh_from_db()
    version = local_library.hls_version
    assert version.startswith("local-")
    keys = seaweed.keys(bucket)
    assert local_library.source.name in keys and local_library.thumbnail.name in keys
    assert f"hls/{local_library.pk}/{version}/master.m3u8" in keys
    assert len([key for key in keys if key.endswith(".ts")]) == 6
    assert f"[1/1] video {local_library.pk}: 11 file(s) copied" in first

    seaweed.client().delete_object(Bucket=bucket, Key=f"hls/{local_library.pk}/{version}/360p/002.ts")
    call_command("media_to_s3")
    assert "1 file(s) copied" in capsys.readouterr().out  # resumed: only the missing object
    call_command("media_to_s3")
    assert "Done: 1 video(s), 0 file(s) copied." in capsys.readouterr().out
    assert seaweed.keys(bucket) == keys

    settings.MEDIA_STORAGE = "s3"
    settings.AWS_S3_URL_PROTOCOL = "http:"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    playlist = bearer_client.get(f"/api/video/{local_library.pk}/360p/index.m3u8")
    assert playlist.status_code == 200
    assert requests.get(segment_urls(playlist.content.decode())[2], timeout=10).status_code == 200
