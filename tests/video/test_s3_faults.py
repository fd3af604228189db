"""Faults with MEDIA_STORAGE=s3, with real processes: a production `rqworker` subprocess, a real
SeaweedFS that is stopped and started again, SIGKILL in the middle of the output's upload."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import UserFactory
from tests.support import rq_worker, wait_until
from tests.support.objectstore import seaweed_store
from tests.video.test_pipeline_recovery import (
    enqueue,
    expire_started_jobs,
    kill_mid_transcode,
    start_worker,
    worker_env,
)
from video.models import Video

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_settings(settings):
    """A slower preset keeps ffmpeg (and the upload of its segments) busy long enough."""
    settings.VIDEO_RUNGS = ["120p", "360p"]
    settings.VIDEO_X264_PRESET = "medium"
    return settings


def use_store(store, bucket: str) -> None:
    store.client().create_bucket(Bucket=bucket)
    for name, value in store.env(bucket).items():
        setattr(settings, name, value)
    settings.AWS_S3_URL_PROTOCOL = "http:"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}


def hls_keys(store, bucket: str, video_id: int) -> list[str]:
    return store.keys(bucket, f"hls/{video_id}/")


def test_a_worker_killed_mid_upload_leaves_only_stored_segments_visible_and_the_retry_cleans_up(
    s3_media,
    make_video,
    long_clip,
    slow_settings,
):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 1
    bucket = s3_media.bucket
    video = enqueue(make_video, long_clip)
    worker = start_worker(**s3_media.env(bucket))
    playable = Video.objects.filter(pk=video.pk, playable=True)
    assert wait_until(playable.exists, timeout=120), "the film was never published while it encoded"
    kill_mid_transcode(worker, video)

    # The film was published while it encoded: its playlist lists only segments in the bucket.
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING and video.hls_version
    partial = hls_keys(s3_media, bucket, video.pk)
    assert all(key.startswith(f"hls/{video.pk}/{video.hls_version}/") for key in partial)
    viewer = APIClient()
    viewer.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(UserFactory()).access_token}")
    answer = viewer.get(f"/api/video/{video.pk}/120p/index.m3u8")
    assert answer.status_code == 200 and "#EXT-X-ENDLIST" not in answer.content.decode()
    listed = [line.split("?")[0] for line in answer.content.decode().splitlines() if line.startswith("http")]
    assert listed and all(url.split(f"/{bucket}/", 1)[1] in partial for url in listed)

    # Another preset is another plan: the retry starts afresh and removes the partial version.
    expire_started_jobs()
    worker = start_worker(VIDEO_X264_PRESET="veryfast", **s3_media.env(bucket))
    assert worker.wait(timeout=180) == 0, worker.stderr.read().decode()

    video.refresh_from_db()
    assert video.status == Video.Status.READY, video.error
    keys = hls_keys(s3_media, bucket, video.pk)
    assert keys and all(key.startswith(f"hls/{video.pk}/{video.hls_version}/") for key in keys)
    assert viewer.get(f"/api/video/{video.pk}/120p/index.m3u8").status_code == 200


def stored_segments(store, bucket: str, video: Video, rung: str) -> dict[str, tuple[str, object]]:
    """Segment name -> (ETag, LastModified) of a rung of the video's version in the bucket."""
    prefix = f"hls/{video.pk}/{video.hls_version}/{rung}/"
    found = {}
    for page in store.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".ts"):
                found[item["Key"].removeprefix(prefix)] = (item["ETag"], item["LastModified"])
    return found


def playlist_segments(viewer, video: Video, rung: str) -> list[str]:
    text = viewer.get(f"/api/video/{video.pk}/{rung}/index.m3u8").content.decode()
    return [line.split("?")[0].rsplit("/", 1)[1] for line in text.splitlines() if line.startswith("http")]


def test_a_killed_workers_film_is_continued_by_a_worker_on_another_machine_from_the_bucket(
    s3_media, make_video, long_clip, slow_settings, tmp_path
):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 1
    bucket = s3_media.bucket
    video = enqueue(make_video, long_clip)
    viewer = APIClient()
    viewer.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(UserFactory()).access_token}")
    first_disk, second_disk = tmp_path / "machine-1", tmp_path / "machine-2"
    worker = start_worker(MEDIA_ROOT=str(first_disk), **s3_media.env(bucket))

    def published_with_four_segments() -> bool:
        video.refresh_from_db()
        return worker.poll() is not None or (
            video.playable
            and all(len(playlist_segments(viewer, video, rung)) >= 4 for rung in ("120p", "360p"))
        )

    assert wait_until(published_with_four_segments, timeout=120), "the film was never published"
    kill_mid_transcode(worker, video)
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING and video.playable
    version = video.hls_version
    seen = {rung: playlist_segments(viewer, video, rung) for rung in ("120p", "360p")}
    assert all(4 <= len(names) < 20 for names in seen.values()), seen  # 40 s in 2 s segments
    objects = {rung: stored_segments(s3_media, bucket, video, rung) for rung in seen}

    expire_started_jobs()
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING and video.playable  # still watchable meanwhile
    worker = start_worker(MEDIA_ROOT=str(second_disk), **s3_media.env(bucket))  # nothing of it on this disk
    assert worker.wait(timeout=180) == 0, worker.stderr.read().decode()

    video.refresh_from_db()
    assert video.status == Video.Status.READY, video.error
    assert video.hls_version == version and video.attempts == 2  # the same version, continued
    for rung, names in seen.items():
        after = playlist_segments(viewer, video, rung)
        assert after[: len(names)] == names  # what viewers had stays, then the rest follows
        assert after == [f"{n:03d}.ts" for n in range(20)]
        now = stored_segments(s3_media, bucket, video, rung)
        # The segments viewers had were not encoded or uploaded again.
        assert {name: now[name] for name in names} == {name: objects[rung][name] for name in names}
    master = viewer.get(f"/api/video/{video.pk}/master.m3u8").content.decode()
    assert "120p/index.m3u8" in master and "360p/index.m3u8" in master and "BANDWIDTH=" in master
    assert not s3_media.keys(bucket, f"hls/{video.pk}/{version}/.plan")  # the plan goes once complete


def test_the_store_stopping_during_a_transcode_is_retried_to_ready_once_it_is_back(
    make_video,
    long_clip,
    slow_settings,
    tmp_path,
):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 3
    slow_settings.VIDEO_TRANSCODE_RETRY_DELAYS = [5]
    with seaweed_store() as store:
        use_store(store, "transcode-faults")
        video = enqueue(make_video, long_clip)
        env = worker_env(**store.env("transcode-faults"), LOG_LEVEL="INFO")
        with rq_worker(env, tmp_path, queues=("transcode",)) as worker:
            uploading = wait_until(lambda: hls_keys(store, "transcode-faults", video.pk), timeout=120)
            assert uploading, worker.log()
            store.stop()
            rows = Video.objects.filter(pk=video.pk)
            retrying = rows.filter(status=Video.Status.PENDING, error__contains="retried")
            assert wait_until(retrying.exists, timeout=180), worker.log()
            store.start()
            ready = Video.objects.filter(pk=video.pk, status=Video.Status.READY)
            assert wait_until(ready.exists, timeout=240, interval=1), worker.log()

        video.refresh_from_db()
        assert video.attempts >= 2
        keys = hls_keys(store, "transcode-faults", video.pk)
        assert keys and all(key.startswith(f"hls/{video.pk}/{video.hls_version}/") for key in keys)
