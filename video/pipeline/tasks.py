"""RQ entry points of the pipeline (queue "transcode") and the worker class that sweeps stale jobs.

Job functions take ids, call one service and let RQ's bounded retry policy handle transient
errors. Recovery from a dead worker is documented in docs/PIPELINE.md.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import close_old_connections
from rq import get_current_job, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.worker import Worker

from video import media_store
from video.pipeline import outputs, queue, recovery
from video.pipeline.transcode import video_transcode
from video.uploads import bucket
from video.uploads.services import upload_sweep

logger = logging.getLogger(__name__)

FAILURE_REASONS = {
    "AbandonedJobError": "The worker running this transcode stopped (killed, out of memory or restarted).",
    "JobTimeoutException": (
        "The transcode took longer than the job timeout (VIDEO_JOB_TIMEOUT) and was stopped."
    ),
}


def transcode_video(video_id: int) -> str:
    job = get_current_job()

    def report_progress(percent: int) -> None:
        if job is not None:
            job.meta["progress"] = percent
            job.save_meta()

    return video_transcode(
        video_id=video_id,
        job_id=job.id if job else "",
        final_attempt=not (job and job.retries_left),
        report_progress=report_progress,
    )


def transcode_video_failed(job: Job, connection, exc_type=None, exc_value=None, traceback=None) -> None:
    """RQ's failure callback: also runs when RQ finds the job abandoned by a dead worker."""
    reason = FAILURE_REASONS.get(getattr(exc_type, "__name__", ""), f"The transcode failed: {exc_value!r}")
    recovery.video_transcode_failed(
        video_id=job.args[0], job_id=job.id, reason=reason, will_retry=bool(job.retries_left)
    )


def recover_stale_videos(older_than: float | None = None) -> int:
    """Re-queue videos whose job is gone or failed without recording it (see docs/PIPELINE.md)."""
    return recovery.video_recover_stale(job_status=queue.job_status, older_than=older_than)


class VideoflixWorker(Worker):
    """RQ's worker, plus the video and upload sweeps after RQ's own registry maintenance.

    RQ's maintenance moves jobs abandoned by a dead worker out of the StartedJobRegistry (retry
    or failed registry, running `transcode_video_failed`); the sweep then catches what RQ cannot
    see: rows whose job vanished from Redis or failed without a callback.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", settings.RQ_MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if pipeline is None:  # idle, or between jobs
            self.register_again_if_forgotten()

    def maintain_heartbeats(self, job, execution):
        super().maintain_heartbeats(job, execution)  # while a job runs
        self.register_again_if_forgotten()

    def register_again_if_forgotten(self) -> None:
        """Redis lost its data (a restart without persistence, a failover, a flush): this running
        worker is no longer listed, so /api/health/ and the dashboard would call it dead for good.
        List it again, as RQ does at its birth."""
        if self.connection.sismember(worker_registration.REDIS_WORKER_KEYS, self.key):
            return
        logger.warning(
            "Worker %s was missing from Redis (its data was lost); registering it again", self.name
        )
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks on an empty queue for worker_ttl - 15 s (405 s) and runs maintenance only
        # between waits; wake up at least once per maintenance interval so an idle worker sweeps.
        return max(1, min(super().dequeue_timeout, int(self.maintenance_interval)))

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        try:
            close_old_connections()
            recovered = recover_stale_videos()
            if recovered:
                logger.warning("Stale-job sweep re-queued or failed %d video(s)", recovered)
            cleaned = recovery.scratch_sweep(job_status=queue.job_status)
            if cleaned:
                logger.warning("Removed the scratch files of %d finished or abandoned transcode(s)", cleaned)
            # Resumable uploads abandoned for VIDEO_UPLOAD_RESUME_HOURS (video/uploads/).
            if swept := upload_sweep():
                logger.info("Removed %d abandoned upload(s)", swept)
            if media_store.enabled() and (swept := bucket.upload_sweep()):
                logger.info("Removed %d abandoned upload(s) from the bucket", swept)
            if media_store.enabled() and (swept := outputs.retired_versions_sweep()):
                logger.info("Removed %d replaced HLS version(s) whose signed URLs have expired", swept)
        except StopRequested:
            raise  # RQ's SIGTERM/SIGINT handler raises it wherever the worker is: stop, do not log it
        except Exception:
            logger.exception("The stale-job sweep failed; it runs again at the next maintenance")
        finally:
            close_old_connections()
