"""The transcode of one video: start, probe, encode, make a thumbnail, publish, clean up.

Output is written to a work folder and published only after ffmpeg succeeded (renamed into place,
or with MEDIA_STORAGE=s3 uploaded under a new version that the row is switched to: see
video.pipeline.outputs), so a failed transcode leaves the previous good output (or none). A job
that is no longer the video's current job (replaced source, deleted row, staff marked it failed)
publishes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from video import layout
from video.catalogue.cache import catalogue_invalidate
from video.models import Video
from video.pipeline import outputs
from video.pipeline.ffmpeg import encode, ladder, probe
from video.pipeline.ffmpeg.process import ProbeError, TranscodeError
from video.pipeline.services import video_mark_failed, video_mark_retrying

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 0.5  # seconds between progress writes (at most two per second)
SUPERSEDED = "superseded"


def video_transcode(
    *,
    video_id: int,
    job_id: str,
    final_attempt: bool = True,
    report_progress: Callable[[int], None] | None = None,
) -> str:
    """Transcode the video's source into its HLS ladder and publish it; return the new status.

    Bad input marks the video failed at once; other errors mark it failed on the final attempt
    (else pending, to be retried) and are raised again so the job's retry policy can run.
    """
    video = _start(video_id=video_id, job_id=job_id)
    if video is None:
        logger.info("Transcode job %s for video %s is superseded; nothing to do", job_id, video_id)
        return SUPERSEDED
    outputs.video_leftovers_remove(video_id)
    area = layout.work_area_create(video_id)
    output = outputs.output_for(area)
    status = Video.Status.FAILED
    try:
        status = _encode_and_publish(
            video, job_id, output, _ProgressWriter(video_id, job_id, report_progress)
        )
        return status
    except Exception as error:
        if _record_failure(video_id=video_id, job_id=job_id, error=error, final_attempt=final_attempt):
            return Video.Status.FAILED
        raise
    finally:
        if status != Video.Status.READY:
            output.discard()
        layout.work_area_remove(area)


def _start(*, video_id: int, job_id: str) -> Video | None:
    """The video, marked processing, if this job is still its current job."""
    video = Video.objects.filter(pk=video_id).first()
    if video is None or video.job_id != job_id:
        return None
    video.attempts += 1
    Video.objects.filter(pk=video_id).update(
        status=Video.Status.PROCESSING, progress=0, attempts=video.attempts, updated_at=timezone.now()
    )
    catalogue_invalidate()
    return video


def _encode_and_publish(video: Video, job_id: str, output, on_progress) -> str:
    area, steps = output.area, _StepTimes()
    with steps("source"):
        source = output.source_path(video)
    probed = probe.ProbeResult.from_dict(video.source_probe) if video.source_probe else probe.probe(source)
    plan = ladder.build_plan(
        source=source,
        output_dir=area.folder,
        probe_result=probed,
        rung_names=settings.VIDEO_RUNGS,
        segment_seconds=settings.VIDEO_HLS_SEGMENT_SECONDS,
        encoder=ladder.EncoderSettings(
            preset=settings.VIDEO_X264_PRESET,
            crf=settings.VIDEO_X264_CRF,
            x264_params=settings.VIDEO_X264_PARAMS,
        ),
    )
    with output.encoding():
        with steps("encode"):
            rungs = encode.transcode(plan, log_path=area.log, on_progress=on_progress)
        with steps("store"):
            output.complete()
    with steps("thumbnail"):
        thumbnail = "" if video.thumbnail else _make_thumbnail(source, area, probed)
    logger.info("Transcode of video %s took %s", video.pk, steps)
    fields = {
        "duration": probed.duration,
        "source_width": probed.width,
        "source_height": probed.height,
        "rungs": [rung.name for rung in rungs],
        **({"thumbnail": thumbnail} if thumbnail else {}),
    }
    if _publish(output=output, job_id=job_id, fields=fields):
        return Video.Status.READY
    if thumbnail:
        default_storage.delete(thumbnail)
    return SUPERSEDED


def _make_thumbnail(source: str, area: layout.WorkArea, probed: probe.ProbeResult) -> str:
    encode.extract_thumbnail(source, area.thumbnail, duration=probed.duration, container=probed.container)
    with open(area.thumbnail, "rb") as handle:
        return default_storage.save(f"thumbnails/{uuid.uuid4().hex}.jpg", File(handle))


def _publish(*, output: outputs.LocalOutput | outputs.BucketOutput, job_id: str, fields: dict) -> bool:
    """Put the finished rungs in place and mark the row ready, if the job is still current; the
    previous output is removed after the commit."""
    video_id = output.area.video_id
    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=video_id, job_id=job_id).first()
        if video is None:
            return False
        clean_up = output.publish(previous_version=video.hls_version)
        now = timezone.now()
        Video.objects.filter(pk=video_id).update(
            status=Video.Status.READY,
            progress=100,
            error="",
            transcoded_at=now,
            updated_at=now,
            hls_version=output.version,
            **fields,
        )
        transaction.on_commit(clean_up)
        transaction.on_commit(catalogue_invalidate)
    return True


def _record_failure(*, video_id: int, job_id: str, error: Exception, final_attempt: bool) -> bool:
    """The one failure policy: record why for staff; return True when the input itself is bad
    (failed for good, nothing to retry)."""
    permanent = isinstance(error, ProbeError) or getattr(error, "permanent", False)
    if isinstance(error, ProbeError | TranscodeError):
        reason = error.for_staff()
    else:
        reason = f"The transcode stopped with an unexpected error: {error!r}"
    if permanent or final_attempt:
        video_mark_failed(video_id=video_id, job_id=job_id, reason=reason)
    else:
        video_mark_retrying(video_id=video_id, job_id=job_id, reason=reason)
    return permanent


class _StepTimes:
    """Seconds each named step took, for the log (where a slow transcode spends its time)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())


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
