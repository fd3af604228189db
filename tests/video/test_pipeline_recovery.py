"""Recovery from dead workers: a real `rqworker` subprocess is SIGKILLed in the middle of a transcode.

See docs/PIPELINE.md: RQ's StartedJobRegistry cleanup (part of every worker's maintenance) finds the
abandoned job once its heartbeat expired, runs the job's failure callback and retries it or moves it
to the failed registry; the worker's stale-job sweep catches rows whose job vanished.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq.registry import StartedJobRegistry

from video import layout
from video.models import Video
from video.pipeline import services, tasks
from video.pipeline.ffmpeg import playlists

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


def worker_env(**extra) -> dict:
    env = {
        **os.environ,
        "DB_NAME": settings.DATABASES["default"]["NAME"],  # pytest-django's test database
        "DB_CONN_MAX_AGE": "0",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VIDEO_RUNGS": ",".join(settings.VIDEO_RUNGS),
        "VIDEO_HLS_SEGMENT_SECONDS": str(settings.VIDEO_HLS_SEGMENT_SECONDS),
        "VIDEO_X264_PRESET": settings.VIDEO_X264_PRESET,
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def start_worker(**env) -> subprocess.Popen:
    """The production worker (`manage.py rqworker`, forking VideoflixWorker), in burst mode."""
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "rqworker", "transcode", "--burst"],
        env=worker_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def hls_entries(video_id: int) -> tuple[bool, list[str]]:
    root = Path(settings.MEDIA_ROOT) / "hls"
    published = (root / str(video_id)).exists()
    work = sorted(p.name for p in root.glob(f".*-{video_id}-*")) if root.exists() else []
    return published, work


@pytest.fixture
def slow_settings(settings):
    # A slower preset keeps ffmpeg busy long enough to be killed in the middle.
    settings.VIDEO_RUNGS = ["120p", "360p"]
    settings.VIDEO_X264_PRESET = "medium"
    return settings


def enqueue(make_video, clip) -> Video:
    video = make_video(clip)
    with transaction.atomic():
        services.video_enqueue_transcode(video=video)
    video.refresh_from_db()
    return video


def kill_mid_transcode(worker: subprocess.Popen, video: Video) -> list[int]:
    """SIGKILL the worker, its work horse and ffmpeg, as a machine crash or the OOM killer would."""
    wait_for(
        lambda: Video.objects.filter(pk=video.pk, progress__gt=0).exists() or worker.poll() is not None,
        what="the transcode to start",
    )
    assert worker.poll() is None, worker.stderr.read().decode()
    processes = [worker.pid, *descendants(worker.pid)]
    encoders = [pid for pid in processes if Path(f"/proc/{pid}/comm").read_text().strip() == "ffmpeg"]
    assert encoders, "ffmpeg should be running"
    # Only the Python processes are killed: ffmpeg must not outlive them (PR_SET_PDEATHSIG).
    for pid in processes:
        if pid not in encoders:
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)
    return processes


def expire_started_jobs() -> None:
    """What any worker's maintenance does once the dead worker's heartbeat TTL (about 90 s) ran out."""
    queue = django_rq.get_queue("transcode")
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 300)


def served_segments(video_id: int, rung: str) -> list[tuple[str, float]]:
    return playlists.parse_media_playlist(
        layout.video_dir(video_id) / rung / layout.RUNG_PLAYLIST, missing_ok=True
    )


def first_video_time(segment: Path) -> float:
    entries = ["-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0"]
    result = subprocess.run(
        ["ffprobe", "-v", "error", *entries, "-read_intervals", "%+#1", str(segment)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.split()[0].split(",")[0])


@pytest.mark.faults
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_s_retry_continues_from_the_last_finished_segment_without_redoing_it(
    make_video, long_clip, slow_settings
):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 1
    video = enqueue(make_video, long_clip)
    worker = start_worker()
    wait_for(
        lambda: (
            worker.poll() is not None
            or (
                Video.objects.filter(pk=video.pk, playable=True).exists()
                and all(len(served_segments(video.pk, rung)) >= 4 for rung in ("120p", "360p"))
            )
        ),
        what="the film published while it encodes, with four finished segments in each rung",
    )
    victims = kill_mid_transcode(worker, video)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in victims), what="ffmpeg to die too")

    video.refresh_from_db()
    assert (video.status, video.playable, video.rungs) == ("processing", True, ["120p", "360p"])
    folder = layout.video_dir(video.pk)
    before = {rung: served_segments(video.pk, rung) for rung in ("120p", "360p")}
    assert all(4 <= len(segments) < 20 for segments in before.values()), before  # 40 s in 2 s segments
    files_before = {
        (rung, name): (folder / rung / name).stat()
        for rung, segments in before.items()
        for name, _ in segments
    }

    expire_started_jobs()
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING and video.playable  # still watchable meanwhile
    assert "worker running this transcode stopped" in video.error
    assert django_rq.get_queue("transcode").job_ids == [video.job_id]  # retried under the same job

    worker = start_worker()
    assert worker.wait(timeout=180) == 0, worker.stderr.read().decode()
    video.refresh_from_db()
    assert video.status == Video.Status.READY, video.error
    assert video.rungs == ["120p", "360p"] and video.attempts == 2
    for rung, segments in before.items():
        after = served_segments(video.pk, rung)
        # A viewer's playlist only grew: the same segments first, then the rest, 000 ... 019.
        assert after[: len(segments)] == segments
        assert [name for name, _ in after] == [f"{n:03d}.ts" for n in range(20)]
        assert sum(seconds for _, seconds in after) == pytest.approx(40, abs=0.1)
        # Timestamps run on across the restart: segment n starts n * 2 s after segment 000.
        start = first_video_time(folder / rung / "000.ts")
        for number, (name, _) in enumerate(after):
            assert first_video_time(folder / rung / name) == pytest.approx(start + 2 * number, abs=0.05)
    for (rung, name), status in files_before.items():  # finished work was not redone
        now = (folder / rung / name).stat()
        assert (now.st_ino, now.st_mtime_ns) == (status.st_ino, status.st_mtime_ns), (rung, name)
    assert hls_entries(video.pk) == (True, [])
    assert not list(folder.rglob(".*"))  # ffmpeg's playlists and the plan are gone


@pytest.mark.faults
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_with_no_retries_left_marks_the_video_failed_and_viewers_get_a_404(
    make_video, long_clip, slow_settings, bearer_client
):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 0
    video = enqueue(make_video, long_clip)
    worker = start_worker()
    wait_for(
        lambda: Video.objects.filter(pk=video.pk, playable=True).exists() or worker.poll() is not None,
        what="the film to be published while it encodes",
    )
    assert bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8").status_code == 200  # watching
    kill_mid_transcode(worker, video)

    expire_started_jobs()
    video.refresh_from_db()
    assert (video.status, video.playable) == (Video.Status.FAILED, False)
    assert "killed, out of memory or restarted" in video.error
    assert video.job_id in django_rq.get_queue("transcode").failed_job_registry.get_job_ids()
    reload = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8")  # the player's next reload
    assert reload.status_code == 404 and reload.json()["detail"]
    assert bearer_client.get("/api/video/").json() == []
    assert hls_entries(video.pk) == (False, [])  # the partial output is removed too


@pytest.mark.django_db
def test_sweep_requeues_a_video_whose_job_vanished_and_fails_it_once_attempts_are_used(
    make_video, landscape_clip, run_worker, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_TRANSCODE_RETRIES = 1
    video = make_video(landscape_clip, status=Video.Status.PROCESSING, attempts=1)
    Video.objects.filter(pk=video.pk).update(
        job_id="lost-in-a-redis-restart", updated_at=timezone.now() - timezone.timedelta(minutes=10)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.recover_stale_videos() == 1
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING and video.job_id != "lost-in-a-redis-restart"
    assert video.attempts == 1  # the count survives the re-queue
    assert django_rq.get_queue("transcode").job_ids == [video.job_id]

    with django_capture_on_commit_callbacks(execute=True):
        run_worker()
    video.refresh_from_db()
    assert video.status == Video.Status.READY and video.attempts == 2

    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.PROCESSING,
        job_id="lost-again",
        updated_at=timezone.now() - timezone.timedelta(minutes=10),
    )
    assert tasks.recover_stale_videos() == 1
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED and "every attempt is used up" in video.error


@pytest.mark.django_db
def test_sweep_leaves_videos_with_a_live_job_or_a_recent_change_alone(
    make_video, landscape_clip, django_capture_on_commit_callbacks
):
    queued = make_video(landscape_clip, status=Video.Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        services.video_enqueue_transcode(video=queued)
    recent = make_video(landscape_clip, status=Video.Status.PROCESSING)
    Video.objects.filter(pk=queued.pk).update(updated_at=timezone.now() - timezone.timedelta(minutes=10))
    Video.objects.filter(pk=recent.pk).update(job_id="not-in-redis-yet")

    assert tasks.recover_stale_videos() == 0
    assert Video.objects.get(pk=recent.pk).job_id == "not-in-redis-yet"


def kill_work_horse(worker: subprocess.Popen, video: Video) -> None:
    """SIGKILL only the forked work horse (what the OOM killer picks); the worker survives."""
    wait_for(
        lambda: Video.objects.filter(pk=video.pk, progress__gt=0).exists() or worker.poll() is not None,
        what="the transcode to start",
    )
    assert worker.poll() is None, worker.stderr.read().decode()
    children = [
        int(pid) for pid in Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    ]
    horses = [pid for pid in children if Path(f"/proc/{pid}/comm").read_text().strip() != "ffmpeg"]
    assert len(horses) == 1
    os.kill(horses[0], signal.SIGKILL)


@pytest.mark.faults
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_work_horse_is_retried_by_the_surviving_worker(make_video, long_clip, slow_settings):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 1
    video = enqueue(make_video, long_clip)
    worker = start_worker()
    kill_work_horse(worker, video)

    # The same burst worker notices the dead horse, retries the job and finishes it.
    assert worker.wait(timeout=180) == 0, worker.stderr.read().decode()
    video.refresh_from_db()
    assert video.status == Video.Status.READY, video.error
    assert video.attempts == 2
    assert hls_entries(video.pk) == (True, [])


@pytest.mark.faults
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_work_horse_on_its_last_attempt_is_failed_by_the_sweep(make_video, long_clip, slow_settings):
    slow_settings.VIDEO_TRANSCODE_RETRIES = 0
    video = enqueue(make_video, long_clip)
    worker = start_worker()
    kill_work_horse(worker, video)
    assert worker.wait(timeout=60) == 0, worker.stderr.read().decode()

    # RQ failed the job without running its callback: the row still says processing ...
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING
    assert video.job_id in django_rq.get_queue("transcode").failed_job_registry.get_job_ids()
    # ... until the worker's sweep sees a failed job behind a processing row.
    assert tasks.recover_stale_videos(older_than=0) == 1
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "every attempt is used up" in video.error
    assert hls_entries(video.pk) == (False, [])


@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_while_its_sweep_runs_stops_instead_of_swallowing_the_request(tmp_path):
    """RQ's SIGTERM handler raises StopRequested wherever the worker is; the sweep's own error
    handling must let it through, or the worker keeps running after being told to stop."""
    from tests.factories import CategoryFactory
    from tests.support import live_env, rq_worker, wait_until

    category = CategoryFactory(name="Drama")
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    Video.objects.bulk_create(
        Video(title=f"Lost {index}", category=category, source="sources/x.mp4", job_id=f"gone-{index}")
        for index in range(3000)
    )
    Video.objects.update(status=Video.Status.PENDING, updated_at=long_ago)
    env = live_env(settings, VIDEO_STALE_AFTER_SECONDS=0, RQ_MAINTENANCE_INTERVAL=600, LOG_LEVEL="INFO")
    requeued = Video.objects.exclude(job_id__startswith="gone-")
    with rq_worker(env, tmp_path, queues=("transcode",)) as worker:
        # The first maintenance runs the sweep right after "Listening on": wait until it is under way.
        assert wait_until(requeued.exists, timeout=30), worker.log()
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("the worker was still running 20 s after SIGTERM:\n" + worker.log())
    assert "The stale-job sweep failed" not in worker.log()
    assert 0 < requeued.count() < 3000  # it stopped in the middle of the sweep
