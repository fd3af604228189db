"""Recovery of transcodes that failed outside the service: a dead worker, a timeout, a lost job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from video import layout
from video.catalogue.cache import catalogue_invalidate
from video.models import Video
from video.pipeline.queue import LIVE_STATES
from video.pipeline.services import video_enqueue_transcode, video_mark_failed

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (Video.Status.PENDING, Video.Status.PROCESSING)
ATTEMPTS_USED_UP = "The transcoding job was lost (its worker stopped) and every attempt is used up."


def video_transcode_failed(*, video_id: int, job_id: str, reason: str, will_retry: bool) -> None:
    """Record a job that failed outside the service (its worker died or it timed out).

    Only a video still shown as processing by this job is touched: the service has already
    recorded every failure it saw itself.
    """
    if not will_retry:
        processing = (Video.Status.PROCESSING,)
        video_mark_failed(video_id=video_id, job_id=job_id, reason=reason, statuses=processing)
        return
    # The output stays: the retry continues from its last finished segments.
    updated = Video.objects.filter(pk=video_id, job_id=job_id, status=Video.Status.PROCESSING).update(
        status=Video.Status.PENDING, error=f"{reason} It will be retried.", updated_at=timezone.now()
    )
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
        if status in LIVE_STATES:
            continue
        if video.attempts > settings.VIDEO_TRANSCODE_RETRIES:
            changed += video_mark_failed(video_id=video.pk, job_id=video.job_id, reason=ATTEMPTS_USED_UP)
        elif _requeue(video):
            logger.warning(
                "Re-queued the transcode of video %s (its job was %s)", video.pk, status or "missing"
            )
            changed += 1
    return changed


def _requeue(video: Video) -> bool:
    with transaction.atomic():
        locked = (
            Video.objects.select_for_update()
            .filter(pk=video.pk, job_id=video.job_id, status__in=ACTIVE_STATUSES)
            .first()
        )
        if locked is None:
            return False
        attempts = locked.attempts
        video_enqueue_transcode(video=locked)
        # Keep the count so a video that keeps killing its worker ends up failed.
        Video.objects.filter(pk=locked.pk).update(attempts=attempts)
    return True


def scratch_sweep(*, job_status: Callable[[str], str | None]) -> int:
    """Remove this host's work areas of videos no transcode is writing to any more: the row is
    gone, or is not processing, or its job is no longer live in RQ (its worker died; the retry
    may run on another machine). Returns how many videos were cleaned."""
    entries = layout.work_area_videos()
    processing = dict(
        Video.objects.filter(pk__in=entries, status=Video.Status.PROCESSING).values_list("pk", "job_id")
    )
    cleaned = 0
    for video_id, paths in entries.items():
        job_id = processing.get(video_id)
        if job_id and job_status(job_id) in LIVE_STATES:
            continue
        for path in paths:
            layout.remove(path)
        cleaned += 1
    return cleaned
