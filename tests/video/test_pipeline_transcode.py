"""The transcoding job end to end: real ffmpeg, real Redis, an RQ SimpleWorker in burst mode."""

from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from rq.job import Job

from tests.video.conftest import keyframe_times
from video.models import Video
from video.pipeline import services, transcode

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def hls_dir(video) -> Path:
    return Path(settings.MEDIA_ROOT) / "hls" / str(video.pk)


def work_dirs() -> list[str]:
    root = Path(settings.MEDIA_ROOT) / "hls"
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.exists() else []


def queue_and_run(video, run_worker, capture) -> Video:
    with capture(execute=True):
        job_id = services.video_enqueue_transcode(video=video)
    with capture(execute=True):  # the job's own after-commit work (old folders, cache)
        run_worker()
    video.refresh_from_db()
    assert video.job_id == job_id
    return video


def test_new_video_is_transcoded_to_ready_with_its_rungs_and_master(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.READY
    assert video.progress == 100
    assert video.error == ""
    assert video.rungs == ["120p", "360p"]
    assert (video.source_width, video.source_height) == (640, 360)
    assert video.duration == pytest.approx(5, abs=0.1)
    assert video.attempts == 1 and video.transcoded_at is not None
    folder = hls_dir(video)
    assert sorted(p.name for p in folder.iterdir()) == ["120p", "360p", "master.m3u8"]
    for rung in ("120p", "360p"):
        assert sorted(p.name for p in (folder / rung).iterdir()) == [
            "000.ts",
            "001.ts",
            "002.ts",
            "index.m3u8",
        ]
    assert "480p" not in (folder / "master.m3u8").read_text()
    assert keyframe_times(folder / "120p" / "index.m3u8") == keyframe_times(folder / "360p" / "index.m3u8")
    assert work_dirs() == []


def test_progress_is_written_to_the_row_and_to_the_job_meta(
    make_video, long_clip, run_worker, django_capture_on_commit_callbacks, settings, monkeypatch
):
    settings.VIDEO_RUNGS = ["120p"]
    seen = []
    original = transcode._ProgressWriter.__call__

    def spy(self, percent):
        still_current = original(self, percent)
        seen.append(Video.objects.get(pk=self.video_id).progress)
        return still_current

    monkeypatch.setattr(transcode._ProgressWriter, "__call__", spy)
    video = queue_and_run(make_video(long_clip), run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.READY and video.progress == 100
    assert seen == sorted(seen)  # progress only moves forward
    assert any(0 < value < 100 for value in seen)  # staff see it move while ffmpeg runs
    assert len(set(seen)) < len(seen) or len(seen) < 200  # throttled, not one write per line
    job = Job.fetch(video.job_id, connection=django_rq.get_connection("transcode"))
    assert 0 < job.meta["progress"] <= 99


@pytest.mark.parametrize(
    ("clip", "size", "rungs", "first_rung_size"),
    [
        ("portrait_clip", (360, 640), ["120p", "360p"], (120, 214)),
        ("rotated_clip", (360, 640), ["120p", "360p"], (120, 214)),
        ("odd_clip", (401, 227), ["120p"], (212, 120)),
        ("tiny_clip", (96, 54), ["120p"], (96, 54)),
        ("silent_clip", (320, 180), ["120p"], (214, 120)),
    ],
)
def test_sources_of_every_shape_get_the_rungs_they_allow(
    request, make_video, run_worker, django_capture_on_commit_callbacks, clip, size, rungs, first_rung_size
):
    video = queue_and_run(
        make_video(request.getfixturevalue(clip)), run_worker, django_capture_on_commit_callbacks
    )
    assert video.status == Video.Status.READY, video.error
    assert (video.source_width, video.source_height) == size
    assert video.rungs == rungs
    master = (hls_dir(video) / "master.m3u8").read_text()
    assert f"RESOLUTION={first_rung_size[0]}x{first_rung_size[1]}" in master


def test_a_thumbnail_is_generated_only_when_staff_gave_none(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)
    assert video.thumbnail.name.startswith("thumbnails/") and video.thumbnail.name.endswith(".jpg")
    assert Path(video.thumbnail.path).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    first = video.thumbnail.name
    video = queue_and_run(video, run_worker, django_capture_on_commit_callbacks)
    assert video.thumbnail.name == first


def test_bad_input_fails_at_once_with_a_reason_and_leaves_nothing(
    make_video, tmp_path, run_worker, django_capture_on_commit_callbacks
):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a film at all " * 500)
    video = queue_and_run(make_video(garbage), run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.FAILED
    assert video.attempts == 1  # not retried
    assert "could not be read as a video" in video.error
    assert "Invalid data found" in video.error  # ffmpeg's own words
    assert not hls_dir(video).exists()
    assert work_dirs() == []


def test_other_failures_retry_a_bounded_number_of_times_then_fail(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_X264_PRESET = "no-such-preset"  # ffmpeg refuses to start the encoder
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.FAILED
    assert video.attempts == settings.VIDEO_TRANSCODE_RETRIES + 1
    assert "ffmpeg failed with exit code" in video.error
    assert "invalid preset" in video.error
    assert not hls_dir(video).exists()
    assert work_dirs() == []
    registry = django_rq.get_queue("transcode").failed_job_registry
    assert video.job_id in registry.get_job_ids()


def test_failed_retranscode_keeps_the_published_rungs_untouched(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks, settings
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)
    before = {p.relative_to(hls_dir(video)): p.stat().st_mtime_ns for p in hls_dir(video).rglob("*")}

    settings.VIDEO_TRANSCODE_RETRIES = 0
    settings.VIDEO_X264_PRESET = "no-such-preset"
    video = queue_and_run(video, run_worker, django_capture_on_commit_callbacks)

    assert video.status == Video.Status.FAILED
    after = {p.relative_to(hls_dir(video)): p.stat().st_mtime_ns for p in hls_dir(video).rglob("*")}
    assert after == before
    assert work_dirs() == []


def test_retranscode_replaces_the_whole_set_of_rungs(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks, settings
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)
    settings.VIDEO_RUNGS = ["120p"]
    video = queue_and_run(video, run_worker, django_capture_on_commit_callbacks)

    assert video.rungs == ["120p"]
    assert sorted(p.name for p in hls_dir(video).iterdir()) == ["120p", "master.m3u8"]
    assert work_dirs() == []


def test_superseded_job_publishes_nothing(make_video, landscape_clip):
    video = make_video(landscape_clip, job_id="current")
    Video.objects.filter(pk=video.pk).update(job_id="newer")
    assert transcode.video_transcode(video_id=video.pk, job_id="current") == "superseded"
    assert not hls_dir(video).exists()
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING


def test_deleting_a_video_removes_source_thumbnail_and_hls_after_commit(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks
):
    video = queue_and_run(make_video(landscape_clip), run_worker, django_capture_on_commit_callbacks)
    files = [Path(video.source.path), Path(video.thumbnail.path), hls_dir(video)]
    assert all(path.exists() for path in files)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.video_delete(video=video)
    assert all(path.exists() for path in files)  # nothing removed before the commit
    for callback in callbacks:
        callback()
    assert not any(path.exists() for path in files)
    assert not Video.objects.filter(pk=video.pk).exists()
