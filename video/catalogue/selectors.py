"""Reads of the catalogue and of watch progress."""

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from video.models import Video, WatchProgress

# A video counts as watched once the position passes this share of its duration.
FINISHED_SHARE = 0.95
# Largest value a bigint primary key can hold; larger ids in a URL simply do not exist.
MAX_ID = 2**63 - 1


def video_list_playable(*, category: str = "", search: str = "") -> QuerySet[Video]:
    """Playable videos (ready, or still being transcoded with their first rungs published), newest
    first, with their category joined (one query however many rows).

    ``category`` matches a category name case-insensitively, or its id when it is a number;
    ``search`` looks for the words in the title or the description.
    """
    videos = Video.objects.filter(playable=True).select_related("category")
    if category:
        match = Q(category__name__iexact=category)
        if category.isdigit() and int(category) <= MAX_ID:
            match |= Q(category_id=int(category))
        videos = videos.filter(match)
    for word in search.split():
        videos = videos.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return videos.order_by("-created_at", "-id")


def video_get_playable(*, video_id: int) -> Video | None:
    """The playable video with this id, its category joined, or None."""
    if video_id > MAX_ID:
        return None
    return Video.objects.filter(pk=video_id, playable=True).select_related("category").first()


@dataclass(frozen=True)
class PlayableOutput:
    rungs: list[str]
    ready: bool  # False while the transcode still runs: playlists may still grow
    version: str  # the version of its HLS set in the bucket (empty in local mode)


def video_playable_output(*, video_id: int) -> PlayableOutput | None:
    """The rungs viewers can watch and where they are, or None when there is no such playable
    video (one small query)."""
    if video_id > MAX_ID:
        return None
    rows = Video.objects.filter(pk=video_id, playable=True).values_list("rungs", "status", "hls_version")
    for rungs, status, version in rows[:1]:
        names = [rung for rung in rungs or [] if isinstance(rung, str)]
        return PlayableOutput(rungs=names, ready=status == Video.Status.READY, version=version)
    return None


def watch_progress_list_unfinished(*, user) -> QuerySet[WatchProgress]:
    """The user's started but unfinished playable videos, most recently watched first."""
    unfinished = Q(video__duration__isnull=True) | Q(
        position_seconds__lt=F("video__duration") * FINISHED_SHARE
    )
    return (
        WatchProgress.objects.filter(user=user, video__playable=True, position_seconds__gt=0)
        .filter(unfinished)
        .select_related("video__category")
        .order_by("-updated_at", "-id")
    )


def watch_progress_get(*, user, video_id: int) -> WatchProgress | None:
    if video_id > MAX_ID:
        return None
    return WatchProgress.objects.filter(user=user, video_id=video_id, video__playable=True).first()
