"""Services of the video pipeline: everything that writes rows or files for ingest and transcoding.

The transcoding itself lives in `video.ffmpeg` (no Django there); these functions load rows,
decide what to store, and schedule side effects with `transaction.on_commit`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from video import ffmpeg
from video.cache import catalogue_invalidate
from video.models import Category, Video

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 0.5  # seconds between progress writes (at most two per second)
ACTIVE_STATUSES = (Video.Status.PENDING, Video.Status.PROCESSING)


# --- Paths ------------------------------------------------------------------------------------


def hls_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "hls"


def video_hls_dir(*, video_id: int) -> Path:
    """Where a video's published renditions live: `MEDIA_ROOT/hls/<id>/`."""
    return hls_root() / str(video_id)


def _work_dirs(video_id: int) -> list[Path]:
    """Unpublished work of a video: `.tmp-<id>-*` (folder, ffmpeg log, thumbnail) and `.old-<id>-*`."""
    root = hls_root()
    if not root.is_dir():
        return []
    return [*root.glob(f".tmp-{video_id}-*"), *root.glob(f".old-{video_id}-*")]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --- Creating, saving, deleting -----------------------------------------------------------------


def video_create(
    *,
    title: str,
    category: Category,
    source,
    description: str = "",
    thumbnail=None,
) -> Video:
    """Store a new video and queue its transcode once the transaction commits."""
    video = Video(title=title, category=category, source=source, description=description)
    if thumbnail:
        video.thumbnail = thumbnail
    return video_save(video=video)


@transaction.atomic
def video_save(*, video: Video) -> Video:
    """Save a new or edited video.

    A new video, or one whose source was replaced, is queued for transcoding after the commit;
    a replaced source or thumbnail file is removed after the commit.
    """
    previous = None
    if video.pk:
        previous = Video.objects.filter(pk=video.pk).values("source", "thumbnail").first()
    source_is_new = previous is None or previous["source"] != video.source.name
    if source_is_new and video.source and not getattr(video.source, "_committed", True):
        video.original_filename = os.path.basename(video.source.name)[:255]
    video.save()

    stale_files = []
    if previous and previous["source"] and previous["source"] != video.source.name:
        stale_files.append(previous["source"])
    if previous and previous["thumbnail"] and previous["thumbnail"] != video.thumbnail.name:
        stale_files.append(previous["thumbnail"])
    if stale_files:
        transaction.on_commit(partial(_delete_files, names=stale_files))

    if source_is_new:
        video_enqueue_transcode(video=video)
    transaction.on_commit(catalogue_invalidate)
    return video


def video_delete(*, video: Video) -> None:
    """Delete the row; its source, thumbnail and HLS folder are removed after the commit."""
    files = [name for name in (video.source.name, video.thumbnail.name) if name]
    video_id = video.pk
    with transaction.atomic():
        video.delete()
        transaction.on_commit(partial(video_delete_files, video_id=video_id, names=files))
        transaction.on_commit(catalogue_invalidate)


def video_delete_files(*, video_id: int, names: list[str]) -> None:
    """Remove a deleted video's stored files and its HLS folder (published and in progress)."""
    _delete_files(names=names)
    for path in [video_hls_dir(video_id=video_id), *_work_dirs(video_id)]:
        _remove(path)


def _delete_files(*, names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete %s", name, exc_info=True)


# --- Queueing ---------------------------------------------------------------------------------


def video_enqueue_transcode(*, video: Video) -> str:
    """Mark the video pending and queue one transcoding job after the commit; return its job id.

    The job id is stored on the row first, so a job that is superseded (the source was replaced
    or staff asked again) notices and publishes nothing.
    """
    job_id = uuid.uuid4().hex
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.PENDING,
        progress=0,
        error="",
        job_id=job_id,
        attempts=0,
        updated_at=timezone.now(),
    )
    video.status, video.progress, video.error, video.job_id, video.attempts = (
        Video.Status.PENDING,
        0,
        "",
        job_id,
        0,
    )
    transaction.on_commit(partial(_enqueue, video_id=video.pk, job_id=job_id))
    transaction.on_commit(catalogue_invalidate)
    return job_id


def _enqueue(*, video_id: int, job_id: str) -> None:
    from video.tasks import enqueue_transcode

    try:
        enqueue_transcode(video_id=video_id, job_id=job_id)
    except Exception:  # Redis down: the worker's sweep queues the video later.
        logger.exception(
            "Could not queue the transcode of video %s; the stale-job sweep will retry", video_id
        )


def video_mark_failed(
    *, video_id: int, reason: str, job_id: str | None = None, detach_job: bool = False
) -> bool:
    """Mark a video failed with a reason for staff. With `job_id`, only if that job is still current.

    `detach_job` forgets the current job, so a transcode still running publishes nothing.
    """
    rows = Video.objects.filter(pk=video_id)
    if job_id:
        rows = rows.filter(job_id=job_id)
    extra = {"job_id": ""} if detach_job else {}
    updated = rows.update(status=Video.Status.FAILED, error=reason, updated_at=timezone.now(), **extra)
    if updated:
        catalogue_invalidate()
    return bool(updated)


# --- Transcoding ------------------------------------------------------------------------------


class _ProgressWriter:
    """Writes progress to the row (at most every PROGRESS_WRITE_INTERVAL) and to a reporter."""

    def __init__(self, video_id: int, job_id: str, report: Callable[[int], None] | None):
        self.video_id, self.job_id, self.report = video_id, job_id, report
        self.last_written_at = 0.0
        self.last_percent = -1

    def __call__(self, percent: float) -> None:
        value = min(99, int(percent))
        now = time.monotonic()
        if value == self.last_percent or now - self.last_written_at < PROGRESS_WRITE_INTERVAL:
            return
        self.last_percent, self.last_written_at = value, now
        Video.objects.filter(pk=self.video_id, job_id=self.job_id).update(
            progress=value, updated_at=timezone.now()
        )
        if self.report:
            self.report(value)


def video_transcode(
    *,
    video_id: int,
    job_id: str,
    final_attempt: bool = True,
    report_progress: Callable[[int], None] | None = None,
) -> str:
    """Transcode the video's source into its HLS ladder and publish it; return the new status.

    Output is written to a temporary folder and swapped into `hls/<id>/` only after ffmpeg
    succeeded. Bad input marks the video failed at once; other errors mark it failed on the final
    attempt and are re-raised so the job's retry policy can run. A job that is no longer the
    video's current job (replaced source, deleted row) publishes nothing.
    """
    video = Video.objects.filter(pk=video_id).first()
    if video is None or video.job_id != job_id:
        logger.info("Transcode job %s for video %s is superseded; nothing to do", job_id, video_id)
        return "superseded"

    Video.objects.filter(pk=video_id).update(
        status=Video.Status.PROCESSING,
        progress=0,
        attempts=video.attempts + 1,
        updated_at=timezone.now(),
    )
    catalogue_invalidate()

    root = hls_root()
    root.mkdir(parents=True, exist_ok=True)
    for leftover in _work_dirs(video_id):
        _remove(leftover)
    work_dir = root / f".tmp-{video_id}-{uuid.uuid4().hex[:12]}"
    work_dir.mkdir()
    log_path = root / f".tmp-{video_id}-{work_dir.name[-12:]}.log"
    thumbnail_path = root / f".tmp-{video_id}-{work_dir.name[-12:]}.jpg"
    try:
        try:
            probe = ffmpeg.probe(video.source.path)
        except ffmpeg.ProbeError as error:
            detail = f"\n\n{error.detail}" if error.detail else ""
            video_mark_failed(video_id=video_id, job_id=job_id, reason=f"{error.message}{detail}")
            return Video.Status.FAILED

        plan = ffmpeg.build_plan(
            source=video.source.path,
            output_dir=work_dir,
            probe_result=probe,
            rung_names=settings.VIDEO_ALLOWED_RESOLUTIONS,
            segment_seconds=settings.VIDEO_HLS_SEGMENT_SECONDS,
            preset=settings.VIDEO_X264_PRESET,
            crf=settings.VIDEO_X264_CRF,
            x264_params=settings.VIDEO_X264_PARAMS,
        )
        renditions = ffmpeg.transcode(
            plan, log_path=log_path, on_progress=_ProgressWriter(video_id, job_id, report_progress)
        )
        thumbnail_name = ""
        if not video.thumbnail:
            ffmpeg.extract_thumbnail(video.source.path, thumbnail_path, duration=probe.duration)
            with open(thumbnail_path, "rb") as handle:
                thumbnail_name = default_storage.save(f"thumbnails/{uuid.uuid4().hex}.jpg", File(handle))

        published = _publish(
            video_id=video_id,
            job_id=job_id,
            work_dir=work_dir,
            fields={
                "duration": probe.duration,
                "source_width": probe.width,
                "source_height": probe.height,
                "renditions": [rendition.name for rendition in renditions],
                **({"thumbnail": thumbnail_name} if thumbnail_name else {}),
            },
        )
        if not published and thumbnail_name:
            default_storage.delete(thumbnail_name)
        return Video.Status.READY if published else "superseded"
    except ffmpeg.TranscodeError as error:
        if error.permanent or final_attempt:
            video_mark_failed(video_id=video_id, job_id=job_id, reason=error.for_staff())
            if error.permanent:
                return Video.Status.FAILED
        else:
            _mark_retrying(video_id=video_id, job_id=job_id, reason=error.for_staff())
        raise
    except Exception as error:
        reason = f"The transcode stopped with an unexpected error: {error!r}"
        if final_attempt:
            video_mark_failed(video_id=video_id, job_id=job_id, reason=reason)
        else:
            _mark_retrying(video_id=video_id, job_id=job_id, reason=reason)
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        for path in (log_path, thumbnail_path):
            path.unlink(missing_ok=True)


def _mark_retrying(*, video_id: int, job_id: str, reason: str) -> None:
    Video.objects.filter(pk=video_id, job_id=job_id).update(
        status=Video.Status.PENDING,
        error=f"This attempt failed and will be retried.\n\n{reason}",
        updated_at=timezone.now(),
    )
    catalogue_invalidate()


def _publish(*, video_id: int, job_id: str, work_dir: Path, fields: dict) -> bool:
    """Swap the finished renditions into `hls/<id>/` and mark the row ready, if the job is current."""
    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=video_id, job_id=job_id).first()
        if video is None:
            return False
        final_dir = video_hls_dir(video_id=video_id)
        old_dir = final_dir.with_name(f".old-{video_id}-{uuid.uuid4().hex[:12]}")
        if final_dir.exists():
            os.rename(final_dir, old_dir)
        os.rename(work_dir, final_dir)
        Video.objects.filter(pk=video_id).update(
            status=Video.Status.READY,
            progress=100,
            error="",
            transcoded_at=timezone.now(),
            updated_at=timezone.now(),
            **fields,
        )
        transaction.on_commit(partial(shutil.rmtree, old_dir, ignore_errors=True))
        transaction.on_commit(catalogue_invalidate)
    return True


# --- Recovery ---------------------------------------------------------------------------------


def video_transcode_failed(*, video_id: int, job_id: str, reason: str, will_retry: bool) -> None:
    """Record a job that failed outside the service (its worker died or it timed out).

    Only a video still shown as processing by this job is touched: the service has already
    recorded every failure it saw itself.
    """
    rows = Video.objects.filter(pk=video_id, job_id=job_id, status=Video.Status.PROCESSING)
    if will_retry:
        updated = rows.update(
            status=Video.Status.PENDING,
            error=f"{reason} It will be retried.",
            updated_at=timezone.now(),
        )
    else:
        updated = rows.update(status=Video.Status.FAILED, error=reason, updated_at=timezone.now())
    for leftover in _work_dirs(video_id):
        _remove(leftover)
    if updated:
        catalogue_invalidate()


def video_recover_stale(*, job_status: Callable[[str], str | None], older_than: float | None = None) -> int:
    """Re-queue (or fail, once attempts are used up) videos left pending/processing without a live job.

    `job_status` maps a job id to RQ's status string, or None when Redis no longer knows the job.
    Returns how many videos were changed.
    """
    older_than = settings.VIDEO_STALE_AFTER_SECONDS if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=older_than)
    changed = 0
    for video in Video.objects.filter(status__in=ACTIVE_STATUSES, updated_at__lt=cutoff):
        status = job_status(video.job_id) if video.job_id else None
        if status in {"queued", "started", "scheduled", "deferred"}:
            continue
        if video.attempts > settings.VIDEO_TRANSCODE_RETRIES:
            changed += video_mark_failed(
                video_id=video.pk,
                job_id=video.job_id,
                reason="The transcoding job was lost (its worker stopped) and every attempt is used up.",
            )
            for leftover in _work_dirs(video.pk):
                _remove(leftover)
            continue
        with transaction.atomic():
            locked = (
                Video.objects.select_for_update()
                .filter(pk=video.pk, job_id=video.job_id, status__in=ACTIVE_STATUSES)
                .first()
            )
            if locked is None:
                continue
            attempts = locked.attempts
            video_enqueue_transcode(video=locked)
            # Keep the count so a video that keeps killing its worker ends up failed.
            Video.objects.filter(pk=locked.pk).update(attempts=attempts)
        logger.warning("Re-queued the transcode of video %s (its job was %s)", video.pk, status or "missing")
        changed += 1
    return changed
