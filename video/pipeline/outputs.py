"""Where a transcode's source comes from and where its HLS set goes, for each MEDIA_STORAGE.

`local`: the source is a file of MEDIA_ROOT; the output is written where viewers read it (a first
transcode) or in a work folder renamed into place when complete.
`s3`: the source is downloaded to the work area, segments are uploaded while ffmpeg encodes
(video.media_store.FolderUploader) under a version prefix, each served playlist after the
segments it lists (`sync`), and the row's `hls_version` names the version viewers get. The
version it replaces is *retired* after the commit: a viewer who loaded its playlists before the
switch still holds signed URLs of its segments, valid for up to HLS_SIGNED_URL_SECONDS (plus the
signing window), so it is kept that long (`retired_grace_seconds`) and then deleted by the
worker's maintenance (`retired_versions_sweep`). A version no row references and that is not so
retired (a failed, superseded or killed job's) is deleted by `video_leftovers_remove`, run when a
transcode starts afresh and by the stale-job sweep.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from django.conf import settings

from video import layout, media_store
from video.models import Video
from video.pipeline.ffmpeg.playlists import parse_media_playlist

logger = logging.getLogger(__name__)


class LocalOutput:
    def __init__(self, area: layout.WorkArea):
        self.area = area
        self.version = ""

    def encoding(self):
        return contextlib.nullcontext()

    def sync(self, playlists: list[Path]) -> None:
        """Nothing to do: viewers read the files where the job writes them (renamed into place)."""

    def complete(self) -> None:
        """Nothing to do: the files are already where publishing renames them from."""

    def publish(self, *, previous_version: str) -> Callable[[], None]:
        """Swap the work folder in (inside the row's transaction); returns the clean-up to run
        after the commit."""
        return partial(layout.remove, layout.publish(self.area))

    def discard(self) -> None:
        """Nothing outside the work area, which the job removes."""

    def adopt(self, stored: list[Path]) -> None:
        """Nothing to do: a local run only continues from its own disk."""


class BucketOutput:
    def __init__(self, area: layout.WorkArea, version: str):
        self.area = area
        self.version = version
        self.prefix = layout.hls_version_prefix(area.video_id, version)
        self.uploader = media_store.FolderUploader(area.folder, self.prefix)

    def encoding(self):
        return self.uploader

    def sync(self, playlists: list[Path]) -> None:
        """Store each playlist (again) once every segment it lists is stored, in the order given
        (rung playlists before the master playlist that names them)."""
        for playlist in playlists:
            if playlist.name == layout.RUNG_PLAYLIST:
                for name, _ in parse_media_playlist(playlist):
                    self.uploader.upload(playlist.parent / name).result()
            key = self.prefix + playlist.relative_to(self.area.folder).as_posix()
            media_store.file_upload(playlist, key, growing=True)

    def complete(self) -> None:
        self.uploader.finish()
        media_store.keys_delete([layout.hls_key(self.area.video_id, self.version, layout.PLAN_FILE)])

    def adopt(self, stored: list[Path]) -> None:
        self.uploader.adopt(stored)

    def publish(self, *, previous_version: str) -> Callable[[], None]:
        if not previous_version or previous_version == self.version:
            return _nothing
        return partial(_version_retire, self.area.video_id, previous_version)

    def discard(self) -> None:
        _version_remove(self.area.video_id, self.version)


def plan_store(area: layout.WorkArea, version: str) -> None:
    """s3 mode: keep the plan of a new version beside its segments, so a retry on any machine can
    continue it (`version_restore`); removed once the version is complete."""
    if media_store.enabled():
        media_store.file_upload(area.plan_file, layout.hls_key(area.video_id, version, layout.PLAN_FILE))


def plan_fetch(area: layout.WorkArea, version: str) -> bool:
    """s3 mode: put the plan stored beside `version` into a fresh work area, for
    progressive.plan_version to compare with this run's; False when the bucket has none."""
    if not media_store.enabled():
        return False
    data = media_store.object_read(layout.hls_key(area.video_id, version, layout.PLAN_FILE))
    if data is None:
        return False
    layout.work_area_reset(area)
    area.plan_file.write_bytes(data)
    return True


def version_restore(area: layout.WorkArea, *, version: str, rungs: list[str]) -> dict[Path, int]:
    """s3 mode, a version viewers already watch that this machine has no work area of (its worker
    died; the retry runs here) and whose plan (`plan_fetch`) is this run's: set the area up as the
    last run left it for viewers (the served rung playlists and each one's first segment, for its
    codecs) and return the size of every segment those list, which are stored but (but for the
    first) not on this disk."""
    prefix = layout.hls_version_prefix(area.video_id, version)
    sizes = {key.removeprefix(prefix): size for key, size in media_store.keys_with_sizes(prefix).items()}
    listed: dict[Path, int] = {}
    for rung in rungs:
        text = media_store.object_read(prefix + f"{rung}/{layout.RUNG_PLAYLIST}")
        if text is None:
            continue  # not published yet: its process starts that rung again
        playlist = area.rung_playlist(rung)
        playlist.parent.mkdir(parents=True, exist_ok=True)
        playlist.write_bytes(text)
        names = [name for name, _ in parse_media_playlist(playlist)]
        listed |= {
            playlist.parent / name: sizes[f"{rung}/{name}"] for name in names if f"{rung}/{name}" in sizes
        }
        if names:
            media_store.file_download(prefix + f"{rung}/{names[0]}", playlist.parent / names[0])
    return listed


def source_path(video: Video, area: layout.WorkArea, *, fetch: bool = True) -> str:
    """A local path of the video's source for ffmpeg: in s3 mode a download in the work area
    (made now, unless not `fetch`)."""
    if not media_store.enabled():
        return video.source.path
    if fetch:
        area.source.parent.mkdir(parents=True, exist_ok=True)
        media_store.file_download(video.source.name, area.source)
    return str(area.source)


def output_for(area: layout.WorkArea, version: str) -> LocalOutput | BucketOutput:
    return BucketOutput(area, version) if media_store.enabled() else LocalOutput(area)


def _nothing() -> None:
    pass


def _version_remove(video_id: int, version: str) -> None:
    try:
        media_store.prefix_delete(layout.hls_version_prefix(video_id, version))
    except media_store.StoreError:
        logger.warning("Could not delete version %s of video %s; the sweep retries", version, video_id)


def _version_retire(video_id: int, version: str) -> None:
    try:
        media_store.object_put(layout.hls_retired_key(video_id, version), b"")
    except media_store.StoreError:
        # Without its marker the version is a leftover: the video's next transcode deletes it.
        logger.warning("Could not mark version %s of video %s as retired", version, video_id)


def retired_grace_seconds() -> int:
    """How long a replaced version stays: the longest a segment URL signed before the switch lives."""
    return settings.HLS_SIGNED_URL_SECONDS + settings.HLS_SIGNED_URL_WINDOW_SECONDS


def _retired_versions(video_id: int | None = None) -> dict[tuple[int, str], float]:
    """(video id, version) -> when it was replaced, of the versions still kept for viewers."""
    found = {}
    for key, (_, modified) in media_store.keys_info(layout.hls_retired_prefix(video_id)).items():
        parts = key.split("/")
        if len(parts) == 3 and parts[1].isdigit():
            found[(int(parts[1]), parts[2])] = modified
    return found


def retired_versions_sweep(*, now: float | None = None) -> int:
    """Delete the replaced versions whose grace is over (and their markers); return how many."""
    cutoff = (time.time() if now is None else now) - retired_grace_seconds()
    removed = 0
    for (video_id, version), retired_at in _retired_versions().items():
        if retired_at > cutoff:
            continue
        current = Video.objects.filter(pk=video_id).values_list("hls_version", flat=True).first()
        if current != version:
            media_store.prefix_delete(layout.hls_version_prefix(video_id, version))
        media_store.keys_delete([layout.hls_retired_key(video_id, version)])
        removed += 1
    return removed


def video_leftovers_remove(video_id: int) -> None:
    """Remove a video's unpublished output: local work folders, and in the bucket every version
    but the one its row references and those retired for viewers who still play them (all of them
    once the row is gone)."""
    layout.work_area_clean(video_id)
    if not media_store.enabled():
        return
    current = Video.objects.filter(pk=video_id).values_list("hls_version", flat=True).first()
    try:
        kept = {version for _, version in _retired_versions(video_id)} if current is not None else set()
        kept |= {current} if current else set()
        prefixes = tuple(layout.hls_version_prefix(video_id, version) for version in kept)
        media_store.prefix_delete(
            layout.hls_video_prefix(video_id), keep=lambda key: key.startswith(prefixes)
        )
    except media_store.StoreError:
        logger.warning("Could not remove the leftovers of video %s; the sweep retries", video_id)


def video_unfinished_remove(video_id: int, *, keep_finished: bool) -> None:
    """Remove what a video's transcodes left unfinished (after it failed for good): local work
    folders and a first transcode's folder, and in the bucket every version its row no longer
    references."""
    layout.unfinished_output_remove(video_id, keep_finished=keep_finished)
    video_leftovers_remove(video_id)


def video_output_remove(video_id: int) -> None:
    """Remove all HLS output of a deleted video, published or not."""
    layout.video_files_remove(video_id)
    if media_store.enabled():
        try:
            media_store.prefix_delete(layout.hls_video_prefix(video_id))
            media_store.prefix_delete(layout.hls_retired_prefix(video_id))
        except media_store.StoreError:
            logger.warning("Could not delete the HLS objects of deleted video %s", video_id)
