"""The pipeline with MEDIA_STORAGE=s3 on a real SeaweedFS: sources and thumbnails in the bucket,
the HLS set uploaded under a version prefix and switched to in one transaction, the previous
version and every leftover removed, nothing of a video left on the worker's disk."""

import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from video import layout
from video.models import Video
from video.pipeline import outputs, services

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def queue_and_run(video, run_worker, capture) -> Video:
    with capture(execute=True):
        services.video_enqueue_transcode(video=video)
    with capture(execute=True):
        run_worker()
    video.refresh_from_db()
    return video


def local_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_transcode_on_s3_publishes_a_version_and_keeps_nothing_on_the_worker_disk(
    s3_media, make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks
):
    video = make_video(landscape_clip)
    assert s3_media.keys(s3_media.bucket, "sources/") == [video.source.name]

    video = queue_and_run(video, run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.READY, video.error
    assert video.rungs == ["120p", "360p"]
    assert len(video.hls_version) == 12
    prefix = layout.hls_version_prefix(video.pk, video.hls_version)
    expected = [
        f"{prefix}{rung}/{name}"
        for rung in ("120p", "360p")
        for name in ("000.ts", "001.ts", "002.ts", "index.m3u8")
    ]
    assert s3_media.keys(s3_media.bucket, "hls/") == sorted([*expected, f"{prefix}master.m3u8"])
    assert s3_media.keys(s3_media.bucket, "thumbnails/") == [video.thumbnail.name]
    head = s3_media.client().head_object(Bucket=s3_media.bucket, Key=f"{prefix}120p/000.ts")
    assert head["ContentType"] == "video/MP2T"
    assert local_files() == []


def versions_in_bucket(s3_media) -> set[str]:
    return {key.split("/")[2] for key in s3_media.keys(s3_media.bucket, "hls/")}


def test_second_transcode_switches_version_and_the_old_one_plays_until_its_signed_urls_expire(
    s3_media, make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks, bearer_client
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)
    first = video.hls_version
    # A viewer loaded the 360p playlist of the first version before the switch.
    held = [line for line in bearer_client.get(f"/api/video/{video.pk}/360p/index.m3u8").content.decode()
            .splitlines() if line and not line.startswith("#")]  # fmt: skip

    video = queue_and_run(video, run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.READY
    assert video.hls_version != first
    assert versions_in_bucket(s3_media) == {first, video.hls_version}
    assert s3_media.keys(s3_media.bucket, "hls-retired/") == [f"hls-retired/{video.pk}/{first}"]
    assert [requests.get(url, timeout=10).status_code for url in held] == [200, 200, 200]
    # The next transcode's clean-up keeps it too; the sweep keeps it while its URLs may live.
    outputs.video_leftovers_remove(video.pk)
    assert outputs.retired_versions_sweep() == 0
    assert versions_in_bucket(s3_media) == {first, video.hls_version}

    later = time.time() + outputs.retired_grace_seconds() + 60
    assert outputs.retired_versions_sweep(now=later) == 1

    assert versions_in_bucket(s3_media) == {video.hls_version}
    assert s3_media.keys(s3_media.bucket, "hls-retired/") == []
    assert requests.get(held[0], timeout=10).status_code == 404
    current = bearer_client.get(f"/api/video/{video.pk}/360p/index.m3u8").content.decode()
    assert [
        requests.get(line, timeout=10).status_code for line in current.splitlines() if line[:1] != "#"
    ] == [
        200,
        200,
        200,
    ]


def test_deleting_a_video_removes_all_its_objects_after_the_commit(
    s3_media, make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)
    video = queue_and_run(video, run_worker, django_capture_on_commit_callbacks)  # one version retired
    assert s3_media.keys(s3_media.bucket, "hls-retired/")

    with django_capture_on_commit_callbacks(execute=True):
        services.video_delete(video=video)

    assert s3_media.keys(s3_media.bucket) == []


def test_bad_source_fails_and_leaves_no_hls_objects(
    s3_media, make_video, truncated_mp4, run_worker, django_capture_on_commit_callbacks
):
    video = queue_and_run(make_video(truncated_mp4), run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.FAILED
    assert video.hls_version == ""
    assert s3_media.keys(s3_media.bucket, "hls/") == []
    assert local_files() == []


def work_area(video_id: int) -> layout.WorkArea:
    area = layout.WorkArea(video_id=video_id, in_place=False)
    area.folder.mkdir(parents=True)
    return area


def test_the_scratch_sweep_removes_work_areas_no_transcode_writes_to(make_video, landscape_clip):
    from video.pipeline import recovery

    done = make_video(landscape_clip, status=Video.Status.READY)
    running = make_video(landscape_clip, status=Video.Status.PROCESSING, job_id="running-job")
    abandoned = make_video(landscape_clip, status=Video.Status.PROCESSING, job_id="dead-job")
    areas = [work_area(video.pk) for video in (done, running, abandoned)]
    areas[0].source.write_bytes(b"downloaded source")
    gone = work_area(abandoned.pk + 100)  # its row does not exist
    states = {"running-job": "started", "dead-job": "failed"}

    assert recovery.scratch_sweep(job_status=states.get) == 3

    assert not areas[0].folder.exists() and not areas[0].source.exists()
    assert not areas[2].folder.exists() and not gone.folder.exists()
    assert areas[1].folder.is_dir()  # its transcode still writes there
