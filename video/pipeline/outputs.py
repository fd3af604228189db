"""Where a transcode's source comes from and where its HLS set goes, for each MEDIA_STORAGE.

`local`: the source is a file of MEDIA_ROOT and the finished work folder is renamed into place.
`s3`: the source is downloaded to the work area, segments are uploaded while ffmpeg encodes
(video.media_store.FolderUploader) under a new version prefix, and publishing is switching the
row's `hls_version` to it; the previous version is removed after the commit. A job that fails,
is superseded or is killed leaves its version unreferenced, and `video_leftovers_remove` (run by
the next attempt and the stale-job sweep) deletes it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import partial

from video import layout, media_store
from video.models import Video

logger = logging.getLogger(__name__)


class LocalOutput:
    def __init__(self, area: layout.WorkArea):
        self.area = area
        self.version = ""

    def source_path(self, video: Video) -> str:
        return video.source.path

    def encoding(self):
        return contextlib.nullcontext()

    def complete(self) -> None:
        """Nothing to do: the files are already where publishing renames them from."""

    def publish(self, *, previous_version: str) -> Callable[[], None]:
        """Swap the work folder in (inside the row's transaction); returns the clean-up to run
        after the commit."""
        return partial(layout.remove, layout.publish(self.area))

    def discard(self) -> None:
        """Nothing outside the work area, which the job removes."""


class BucketOutput:
    def __init__(self, area: layout.WorkArea):
        self.area = area
        self.version = area.token
        self.uploader = media_store.FolderUploader(
            area.folder, layout.hls_version_prefix(area.video_id, self.version)
        )

    def source_path(self, video: Video) -> str:
        media_store.file_download(video.source.name, self.area.source)
        return str(self.area.source)

    def encoding(self):
        return self.uploader

    def complete(self) -> None:
        self.uploader.finish()

    def publish(self, *, previous_version: str) -> Callable[[], None]:
        if not previous_version:
            return _nothing
        return partial(_version_remove, self.area.video_id, previous_version)

    def discard(self) -> None:
        _version_remove(self.area.video_id, self.version)


def output_for(area: layout.WorkArea) -> LocalOutput | BucketOutput:
    return BucketOutput(area) if media_store.enabled() else LocalOutput(area)


def _nothing() -> None:
    pass


def _version_remove(video_id: int, version: str) -> None:
    try:
        media_store.prefix_delete(layout.hls_version_prefix(video_id, version))
    except media_store.StoreError:
        logger.warning("Could not delete version %s of video %s; the sweep retries", version, video_id)


def video_leftovers_remove(video_id: int) -> None:
    """Remove a video's unpublished output: local work folders, and in the bucket every version
    but the one its row references (all of them once the row is gone)."""
    layout.work_area_clean(video_id)
    if not media_store.enabled():
        return
    current = Video.objects.filter(pk=video_id).values_list("hls_version", flat=True).first()
    keep = layout.hls_version_prefix(video_id, current) if current else None
    try:
        media_store.prefix_delete(
            layout.hls_video_prefix(video_id), keep=lambda key: keep is not None and key.startswith(keep)
        )
    except media_store.StoreError:
        logger.warning("Could not remove the leftovers of video %s; the sweep retries", video_id)


def video_output_remove(video_id: int) -> None:
    """Remove all HLS output of a deleted video, published or not."""
    layout.video_files_remove(video_id)
    if media_store.enabled():
        try:
            media_store.prefix_delete(layout.hls_video_prefix(video_id))
        except media_store.StoreError:
            logger.warning("Could not delete the HLS objects of deleted video %s", video_id)
