"""The transcode queue in Redis (RQ): putting a job on it and asking how a job is doing.

The job function is named by its dotted path, so the services that queue jobs do not import the
tasks module that calls them.
"""

import django_rq
from django.conf import settings
from rq import Callback, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

QUEUE = "transcode"
TRANSCODE_JOB = "video.pipeline.tasks.transcode_video"
TRANSCODE_FAILED_CALLBACK = "video.pipeline.tasks.transcode_video_failed"
# States in which RQ still holds the job and will run it (or is running it).
LIVE_STATES = frozenset({"queued", "started", "scheduled", "deferred"})


def transcode_enqueue(*, video_id: int, job_id: str) -> Job:
    """Queue the transcode of one video under a job id already stored on its row."""
    delays = list(settings.VIDEO_TRANSCODE_RETRY_DELAYS) or [0]
    retries = settings.VIDEO_TRANSCODE_RETRIES
    # The caller already waits for the commit (services use transaction.on_commit), so enqueue now.
    return django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
        TRANSCODE_JOB,
        video_id,
        job_id=job_id,
        retry=Retry(max=retries, interval=delays) if retries > 0 else None,
        on_failure=Callback(TRANSCODE_FAILED_CALLBACK),
        result_ttl=24 * 3600,
        failure_ttl=7 * 24 * 3600,
        description=f"Transcode video {video_id}",
    )


def job_status(job_id: str) -> str | None:
    """RQ's status of a job, or None when Redis no longer knows it."""
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection(QUEUE))
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=False)
    return str(status.value if hasattr(status, "value") else status)
