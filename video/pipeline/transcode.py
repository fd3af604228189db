"""The transcode of one video: start, prepare, make a thumbnail, encode while publishing, finish.

A video with no complete output becomes playable while it is encoded: each rung is published when
the no-stall rule allows (video.pipeline.progressive), the video as soon as its start rungs are.
Locally it is encoded into its own folder; with MEDIA_STORAGE=s3 its segments and playlists are
uploaded under a new version as they are finished (video.pipeline.outputs) and the row names that
version from the moment it is playable. A video that already has complete output keeps serving it:
the new version is made beside it and switched to when it is complete. A run that follows a killed
one continues from the last finished segment of each rung. A job that is no longer the video's
current job (replaced source, deleted row, staff marked it failed) stops and publishes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from video import layout, media_store
from video.catalogue.cache import catalogue_invalidate
from video.models import Video
from video.pipeline import outputs, progressive
from video.pipeline.ffmpeg import encode, ladder, playlists, probe
from video.pipeline.ffmpeg.process import ProbeError, TranscodeError
from video.pipeline.services import video_mark_failed, video_mark_retrying

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 0.5  # seconds between progress writes (at most two per second)
SUPERSEDED = "superseded"
LOCK_NAMESPACE = 0x5646  # pg_advisory_lock(namespace, video id): one transcode of a video at a time
LOCK_WAIT_SECONDS = 120


def video_transcode(
    *,
    video_id: int,
    job_id: str,
    final_attempt: bool = True,
    report_progress: Callable[[int], None] | None = None,
) -> str:
    """Transcode the video's source into its HLS ladder, publishing as it goes; return the new status.

    Bad input marks the video failed at once; other errors mark it failed on the final attempt
    (else pending, to be retried from where this attempt stopped) and are raised again so the
    job's retry policy can run.
    """
    with _video_lock(video_id):
        video = _start(video_id=video_id, job_id=job_id)
        if video is None:
            logger.info("Transcode job %s for video %s is superseded; nothing to do", job_id, video_id)
            return SUPERSEDED
        growing = not _has_complete_output(video)
        area = layout.WorkArea(video_id=video_id, in_place=growing and not media_store.enabled())
        status = None
        try:
            writer = _ProgressWriter(video_id, job_id, report_progress)
            status = _encode_and_publish(video, job_id, area, writer, growing=growing)
            return status
        except Exception as error:
            if not Video.objects.filter(pk=video_id, job_id=job_id).exists():
                logger.info("Transcode job %s for video %s stopped: superseded (%r)", job_id, video_id, error)
                status = SUPERSEDED
                return status
            if _record_failure(video_id=video_id, job_id=job_id, error=error, final_attempt=final_attempt):
                status = Video.Status.FAILED
                return status
            raise  # retried: everything stays, to continue from
        finally:
            _clean_up(area, status)


def _clean_up(area: layout.WorkArea, status: str | None) -> None:
    """What is left once the job ends: scratch files always; in s3 mode the local folder too once
    the output is stored, and a superseded job's version when its row does not reference it."""
    layout.work_area_remove_scratch(area)
    if not media_store.enabled() or status is None:
        return
    if status == SUPERSEDED:
        outputs.video_leftovers_remove(area.video_id)
    else:
        layout.remove(area.folder)


@contextlib.contextmanager
def _video_lock(video_id: int):
    """Wait (boundedly) until no other transcode of this video runs: a superseded job may still be
    stopping its ffmpeg when the next job of the same video starts on another worker."""
    key = [LOCK_NAMESPACE, video_id % 2**31]
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        while not cursor.fetchone()[0]:
            if time.monotonic() > deadline:
                raise TranscodeError("Another transcode of this video is still running.")
            time.sleep(1)
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


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


def _has_complete_output(video: Video) -> bool:
    """Viewers are watching a finished version (which must keep playing until the new one is done)."""
    if not video.playable or video.transcoded_at is None:
        return False
    if media_store.enabled():
        return bool(video.hls_version)
    return layout.video_dir(video.pk).is_dir()


def _plan(video: Video, area: layout.WorkArea) -> tuple[str, probe.ProbeResult, ladder.TranscodePlan]:
    """Where ffmpeg reads the source, what the upload check read of it, and the ladder to make."""
    if video.source_probe:
        source = outputs.source_path(video, area, fetch=False)
        probed = probe.ProbeResult.from_dict(video.source_probe)
    else:
        source = outputs.source_path(video, area)
        probed = probe.probe(source)
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
    return source, probed, plan


def _encode_and_publish(
    video: Video, job_id: str, area: layout.WorkArea, writer: _ProgressWriter, *, growing: bool
) -> str:
    steps = _StepTimes()
    source, probed, plan = _plan(video, area)
    version, stored = _prepare(video=video, job_id=job_id, area=area, plan=plan, growing=growing)
    resumed = stored is not None
    with steps("source"):
        outputs.source_path(video, area)  # (after _prepare, which may clear the work area)
    store = outputs.output_for(area, version)
    store.adopt(list(stored or {}))
    # Two ffmpeg processes only for a film viewers watch while it encodes; a new version of a
    # ready film is watched when complete, so one process (one decode) makes it soonest.
    made = progressive.Output(area, ladder.split_for_start(plan) if growing else [plan])
    # Continuing a film viewers already watch: what they have stays published.
    starts = made.load(
        published=video.rungs if resumed and growing and video.playable else (), stored=stored or {}
    )
    thumbnail = _Thumbnail(None if video.thumbnail else (source, area, probed))
    fields = {"duration": probed.duration, "source_width": probed.width, "source_height": probed.height}
    publisher = _Publisher(
        job_id=job_id, made=made, store=store, starts=starts, fields=fields, growing=growing
    )
    publisher.thumbnail, ready = thumbnail, False
    try:
        with store.encoding():
            with steps("encode"):
                encoded = publisher.encode(writer)
            with steps("store"):
                fields |= thumbnail.fields() if encoded else {}
                ready = encoded and _finish(job_id=job_id, made=made, store=store, fields=fields)
    finally:
        if not ready:
            thumbnail.discard(video.pk)
    logger.info("Transcode of video %s took %s (thumbnail %s)", video.pk, steps, thumbnail)
    if ready:
        logger.info("Video %s is ready; encoder speed (media s per s): %s", video.pk, publisher.speeds())
        return Video.Status.READY
    return SUPERSEDED


def _prepare(
    *, video: Video, job_id: str, area: layout.WorkArea, plan: ladder.TranscodePlan, growing: bool
) -> tuple[str, dict[Path, int] | None]:
    """Continue what an earlier run of the same plan left, or start afresh (taking a video that is
    published while it grows out of the catalogue until its new output is playable); return the
    output's version (a new bucket prefix when starting afresh in s3 mode, else empty) and, when
    it continues, the segments it continues that are stored but not on this disk, with their sizes
    (else None)."""
    source_name = video.source.name
    version = progressive.plan_version(area, plan, source_name=source_name)
    if version is not None:
        logger.info("Transcode of video %s continues from its last finished segments", video.pk)
        return version, {}
    watched = video.hls_version if growing and video.playable else ""
    if (
        watched
        and outputs.plan_fetch(area, watched)
        and progressive.plan_version(area, plan, source_name=source_name) == watched
    ):
        rungs = [planned.rung.name for planned in plan.rungs]
        stored = outputs.version_restore(area, version=watched, rungs=rungs)
        logger.info("Transcode of video %s continues version %s from the bucket", video.pk, watched)
        return watched, stored
    if growing:
        Video.objects.filter(pk=video.pk, job_id=job_id).update(
            playable=False, rungs=[], transcoded_at=None, hls_version=""
        )
        catalogue_invalidate()
    outputs.video_leftovers_remove(video.pk)  # what other runs left: local folders, bucket versions
    layout.work_area_reset(area)
    version = uuid.uuid4().hex[:12] if media_store.enabled() else ""
    progressive.plan_write(area, plan, source_name=source_name, version=version)
    outputs.plan_store(area, version)
    return version, None


def _make_thumbnail(source: str, area: layout.WorkArea, probed: probe.ProbeResult) -> str:
    encode.extract_thumbnail(source, area.thumbnail, duration=probed.duration, container=probed.container)
    with open(area.thumbnail, "rb") as handle:
        return default_storage.save(f"thumbnails/{uuid.uuid4().hex}.jpg", File(handle))


class _Thumbnail:
    """The thumbnail staff did not give, made in a thread while the encoders start, so the film
    waits for neither: it is published with it (`ready()`) and stored on the row."""

    def __init__(self, arguments: tuple | None):
        self.future, self.started = None, time.monotonic()
        self.seconds: float | None = None
        if arguments is not None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnail")
            self.future = pool.submit(self._make, *arguments)
            pool.shutdown(wait=False)  # its one thread ends with the thumbnail

    def _make(self, *arguments) -> str:
        try:
            return _make_thumbnail(*arguments)
        finally:
            self.seconds = time.monotonic() - self.started

    def ready(self) -> bool:
        return self.future is None or self.future.done()

    def fields(self) -> dict:
        """The row's thumbnail field (waits for it; raises what making it raised)."""
        return {} if self.future is None else {"thumbnail": self.future.result()}

    def discard(self, video_id: int) -> None:
        """Delete a thumbnail made for a job that published nothing (once it is made)."""
        if self.future is None or self.future.exception() is not None:
            return
        name = self.future.result()
        if not Video.objects.filter(pk=video_id, thumbnail=name).exists():
            default_storage.delete(name)

    def __str__(self) -> str:
        if self.future is None:
            return "given by staff"
        return "not finished" if self.seconds is None else f"{self.seconds:.1f} s, alongside"


class _Publisher:
    """Runs the ffmpeg processes and, every half second, takes in their finished segments, writes
    progress and (for a video published while it grows) stores the grown playlists of published
    rungs, publishes the rungs the no-stall rule allows and holds the higher rungs' process while
    the start rungs need the CPU."""

    def __init__(self, *, job_id, made: progressive.Output, store, starts, fields, growing: bool):
        self.job_id, self.output, self.store, self.fields = job_id, made, store, fields
        self.area, self.growing = made.area, growing
        self.writer: _ProgressWriter | None = None
        self.thumbnail: _Thumbnail | None = None
        self.measured: list[float] = []
        self.running = [index for index, start in enumerate(starts) if start is not None]
        self.starts = starts
        # When viewers could first start (a run that continues published rungs: its own start).
        self.published_at = time.monotonic() if made.published() else None

    def encode(self, writer: _ProgressWriter) -> bool:
        """Run what is left; False when the job was superseded meanwhile."""
        self.writer = writer
        groups, commands = self.output.groups, []
        for index in self.running:
            encode.prepare_folders(groups[index])
            commands.append(ladder.build_transcode_command(groups[index], resume_from=self.starts[index]))
        if not commands:
            return self.watch([])
        logs = [self.area.log(index) for index in self.running]
        return encode.run_together(commands, log_paths=logs, watch=self.watch)

    def speeds(self) -> str:
        """Each ffmpeg process's speed in this run, e.g. "120p+360p+480p 2.41x, 720p+1080p 0.93x"."""
        parts = []
        for index, speed in zip(self.running, self.measured, strict=False):
            names = "+".join(planned.rung.name for planned in self.output.groups[index].rungs)
            parts.append(f"{names} {speed:.2f}x")
        return ", ".join(parts) or "nothing left to encode"

    def watch(self, encodes: list[encode.RunningEncode]) -> bool:
        seconds = self.output.segment_seconds
        positions = [self.output.duration] * len(self.output.groups)
        speeds = [float("inf")] * len(self.output.groups)
        for index, running in zip(self.running, encodes, strict=True):
            positions[index] = self.starts[index] * seconds + running.position
            speeds[index] = self.pace(index, running) if running.running else float("inf")
        self.measured = [running.speed for running in encodes]
        if not self.writer(self.output.progress(positions)):
            return False  # superseded: touch nothing more (its files may be going away)
        grown = self.output.refresh()
        if not self.growing:
            return True
        self.store.sync([rung.served_playlist for rung in grown if rung.published])
        if not self.publish(speeds):
            return False
        self.give_way(encodes)
        return True

    @staticmethod
    def pace(group: int, running: encode.RunningEncode) -> float:
        """The speed the no-stall rule assumes for a group: the start rungs' process is never held,
        so the pace of its last seconds is the one it has with the CPU it gets now (none of
        ffmpeg's start, nor the thumbnail made beside it, and the higher rungs' share as soon as
        they run); the others' pace counts the time they were held, as their future will."""
        return running.recent_speed if group == 0 else running.speed

    def give_way(self, encodes: list[encode.RunningEncode]) -> None:
        """Hold the higher rungs' process until the start rungs are published, and afterwards while
        they would not stay ahead of their earliest viewer with PAUSE_HEADROOM seconds to spare
        (once held, until they would with RESUME_HEADROOM); never once the start rungs are done."""
        if len(encodes) < 2 or self.running[0] != 0:
            return
        start, others = encodes[0], encodes[1:]
        if not start.running:
            held = False
        elif self.published_at is None:
            held = True
        else:
            headroom = progressive.RESUME_HEADROOM if others[0].held else progressive.PAUSE_HEADROOM
            watched = time.monotonic() - self.published_at + headroom
            held = not self.output.start_rungs_stay_ahead(speed=self.pace(0, start), watched=watched)
        for other in others:
            other.hold(held)

    def publish(self, speeds: list[float]) -> bool:
        """Add the rungs that cannot stall to the master playlist and the catalogue; the video is
        playable once every start rung can be (and no rung is published before)."""
        ready = self.output.newly_publishable(speeds)
        first = not self.output.published()
        if not ready or (first and not set(self.output.start_rungs()) <= set(ready)):
            return True
        if first and not self.thumbnail.ready():
            return True  # the catalogue shows the film with its thumbnail, a moment later
        if first:
            self.fields |= self.thumbnail.fields()
        for name in ready:
            self.output.rungs[name].published = True
        if first:
            self.published_at = time.monotonic()
        master = _write_master(self.output, self.output.published())
        self.store.sync([*(self.output.rungs[name].served_playlist for name in ready), master])
        updated = Video.objects.filter(pk=self.area.video_id, job_id=self.job_id).update(
            playable=True,
            rungs=self.output.published(),
            hls_version=self.store.version,
            updated_at=timezone.now(),
            **self.fields,
        )
        catalogue_invalidate()
        logger.info("Video %s: published %s", self.area.video_id, ", ".join(ready))
        return bool(updated)


def _write_master(output: progressive.Output, names: list[str]) -> Path:
    described = []
    for plan in output.groups:
        for planned in plan.rungs:
            if planned.rung.name in names:
                segments = sorted(output.rungs[planned.rung.name].segments.items())
                described.append(playlists.describe_rung(plan, planned, segments, sizes=output.stored))
    master = output.area.folder / layout.MASTER_PLAYLIST
    playlists.write_master_playlist(master, described, output.groups[0].fps)
    return master


def _finish(*, job_id: str, made: progressive.Output, store, fields: dict) -> bool:
    """Every rung is complete: write the final master playlist, store the rest (s3), then swap the
    output in (unless viewers already read it where it is) and mark the row ready, if the job is
    still current."""
    area = made.area
    made.refresh()
    incomplete = [rung.name for rung in made.rungs.values() if not rung.complete]
    if incomplete:
        raise TranscodeError(f"ffmpeg did not finish {', '.join(incomplete)}.")
    names = list(made.rungs)
    _write_master(made, names)
    if not area.in_place:
        layout.work_area_finish(area)
    store.complete()
    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=area.video_id, job_id=job_id).first()
        if video is None:
            return False
        clean_up = store.publish(previous_version=video.hls_version)
        now = timezone.now()
        Video.objects.filter(pk=area.video_id).update(
            status=Video.Status.READY,
            progress=100,
            error="",
            playable=True,
            rungs=names,
            transcoded_at=now,
            updated_at=now,
            hls_version=store.version,
            **fields,
        )
        transaction.on_commit(clean_up)
        transaction.on_commit(catalogue_invalidate)
    if area.in_place:
        layout.work_area_finish(area)
    return True


def _record_failure(*, video_id: int, job_id: str, error: Exception, final_attempt: bool) -> bool:
    """The one failure policy: record why for staff; return True when the input itself is bad
    (failed for good, nothing to retry). Failing for good takes the video out of the catalogue and
    removes its unfinished output; a retry keeps it, to continue from it."""
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
    """Writes progress to the row (at most every PROGRESS_WRITE_INTERVAL) and to a reporter; says
    False once the row has another job (this one is superseded)."""

    def __init__(self, video_id: int, job_id: str, report: Callable[[int], None] | None):
        self.video_id, self.job_id, self.report = video_id, job_id, report
        self.last_written_at = 0.0
        self.last_percent = -1

    def __call__(self, percent: float) -> bool:
        value = min(99, int(percent))
        now = time.monotonic()
        if now - self.last_written_at < PROGRESS_WRITE_INTERVAL:
            return True
        self.last_written_at = now
        # Written (or at least checked) every interval, so a superseded job stops within one.
        updated = Video.objects.filter(pk=self.video_id, job_id=self.job_id).update(
            progress=value, updated_at=timezone.now()
        )
        if self.report and value != self.last_percent:
            self.report(value)
        self.last_percent = value
        return bool(updated)
