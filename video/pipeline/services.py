"""Services of the pipeline that staff trigger: storing, replacing and deleting videos, queueing
their transcodes and marking them failed. Every change the catalogue shows invalidates it once,
after the commit.
"""

from __future__ import annotations

import logging
import os
import uuid
from functools import partial

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from video.catalogue.cache import catalogue_invalidate
from video.models import Category, Video
from video.pipeline import outputs, queue
from video.pipeline.ffmpeg.probe import ProbeResult

logger = logging.getLogger(__name__)


def video_create(
    *, title: str, category: Category, source, description: str = "", thumbnail=None, probe=None
) -> Video:
    """Store a new video and queue its transcode once the transaction commits."""
    video = Video(title=title, category=category, source=source, description=description)
    if thumbnail:
        video.thumbnail = thumbnail
    return video_save(video=video, probe=probe)


@transaction.atomic
def video_save(*, video: Video, probe: ProbeResult | None = None) -> Video:
    """Save a new or edited video.

    A new video, or one whose source was replaced, is queued for transcoding after the commit (with
    `probe`, what the upload check learnt of the new source, so the worker does not probe again);
    a replaced source or thumbnail file is removed after the commit.
    """
    previous = Video.objects.filter(pk=video.pk).values("source", "thumbnail").first() if video.pk else None
    source_is_new = previous is None or previous["source"] != video.source.name
    if source_is_new:
        video.source_probe = probe.as_dict() if probe else None
        if video.source and not getattr(video.source, "_committed", True):
            video.original_filename = os.path.basename(video.source.name)[:255]
    video.save()
    stale_files = [
        previous[name]
        for name in ("source", "thumbnail")
        if previous and previous[name] and previous[name] != getattr(video, name).name
    ]
    if stale_files:
        transaction.on_commit(partial(files_delete, names=stale_files))
    if source_is_new:
        video_enqueue_transcode(video=video)
    transaction.on_commit(catalogue_invalidate)
    return video


def video_delete(*, video: Video) -> None:
    """Delete the row; its source, thumbnail and HLS output are removed after the commit."""
    names = [name for name in (video.source.name, video.thumbnail.name) if name]
    video_id = video.pk
    with transaction.atomic():
        video.delete()
        transaction.on_commit(partial(files_delete, names=names))
        transaction.on_commit(partial(outputs.video_output_remove, video_id))
        transaction.on_commit(catalogue_invalidate)


def files_delete(*, names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete %s", name, exc_info=True)


def category_save(*, category: Category) -> Category:
    category.save()
    transaction.on_commit(catalogue_invalidate)
    return category


def category_delete(*, category: Category) -> None:
    category.delete()
    transaction.on_commit(catalogue_invalidate)


def video_enqueue_transcode(*, video: Video) -> str:
    """Mark the video pending and queue one transcoding job after the commit; return its job id.

    The job id is stored on the row first, so a job that is superseded (the source was replaced
    or staff asked again) notices and publishes nothing.
    """
    job_id = uuid.uuid4().hex
    fields = {"status": Video.Status.PENDING, "progress": 0, "error": "", "job_id": job_id, "attempts": 0}
    Video.objects.filter(pk=video.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(video, name, value)
    transaction.on_commit(partial(_enqueue, video_id=video.pk, job_id=job_id))
    transaction.on_commit(catalogue_invalidate)
    return job_id


def _enqueue(*, video_id: int, job_id: str) -> None:
    try:
        queue.transcode_enqueue(video_id=video_id, job_id=job_id)
    except RedisError:  # Redis down: the worker's sweep queues the video later.
        logger.exception(
            "Could not queue the transcode of video %s; the stale-job sweep will retry", video_id
        )


def video_mark_failed(
    *,
    video_id: int,
    reason: str,
    job_id: str | None = None,
    detach_job: bool = False,
    statuses: tuple[str, ...] = (),
) -> bool:
    """Mark a video failed with a reason for staff and take it out of the catalogue; remove its
    unfinished output after the commit (a finished version stays on disk, unserved). With `job_id`,
    only if that job is still current; with `statuses`, only from one of those.

    `detach_job` forgets the current job, so a transcode still running stops and publishes nothing.
    """
    rows = Video.objects.filter(pk=video_id)
    if job_id:
        rows = rows.filter(job_id=job_id)
    if statuses:
        rows = rows.filter(status__in=statuses)
    with transaction.atomic():
        video = rows.select_for_update().only("pk", "transcoded_at").first()
        if video is None:
            return False
        keep = video.transcoded_at is not None  # the output viewers had was complete
        extra = {"job_id": ""} if detach_job else {}
        if not keep:
            extra["hls_version"] = ""  # a first transcode's version: unfinished, removed below
        Video.objects.filter(pk=video_id).update(
            status=Video.Status.FAILED, playable=False, error=reason, updated_at=timezone.now(), **extra
        )
        transaction.on_commit(partial(outputs.video_unfinished_remove, video_id, keep_finished=keep))
        transaction.on_commit(catalogue_invalidate)
    return True


def video_mark_retrying(*, video_id: int, job_id: str, reason: str) -> None:
    Video.objects.filter(pk=video_id, job_id=job_id).update(
        status=Video.Status.PENDING,
        error=f"This attempt failed and will be retried.\n\n{reason}",
        updated_at=timezone.now(),
    )
    transaction.on_commit(catalogue_invalidate)
