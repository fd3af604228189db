"""Staff actions outside the admin's own forms."""

from __future__ import annotations

from django.db import transaction

from video.models import Video
from video.pipeline.services import video_enqueue_transcode


@transaction.atomic
def video_transcode_again(*, video_id: int) -> bool:
    """Queue a new transcode of the video from its source (the row is locked while its job id
    changes); False when the video no longer exists."""
    video = Video.objects.select_for_update().filter(pk=video_id).first()
    if video is None:
        return False
    video_enqueue_transcode(video=video)
    return True
