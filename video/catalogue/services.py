"""Writes of the catalogue's viewers: where each user stopped in each video."""

from video.models import Video, WatchProgress


def watch_progress_set(*, user, video: Video, position_seconds: float) -> WatchProgress:
    """Store the user's position in the video (one row per user and video).

    Positions past the end are clamped to the duration, since players report the last frame
    slightly late; negative positions are the caller's validation to refuse.
    """
    if video.duration is not None:
        position_seconds = min(position_seconds, video.duration)
    progress, _ = WatchProgress.objects.update_or_create(
        user=user, video=video, defaults={"position_seconds": position_seconds}
    )
    return progress
