"""The HLS layout on disk and in the bucket: the one module that knows folder, key, playlist and
segment names.

    MEDIA_ROOT/hls/<video id>/master.m3u8            the master playlist, lowest rung first
    MEDIA_ROOT/hls/<video id>/<rung>/index.m3u8      one media playlist per rung ("480p")
    MEDIA_ROOT/hls/<video id>/<rung>/000.ts ...      its segments, three digits (000-999)
    MEDIA_ROOT/hls/<video id>/<rung>/.encoder.m3u8   ffmpeg's own playlist while it encodes
    MEDIA_ROOT/hls/<video id>/.plan.json             what the running transcode makes (to resume it)
    MEDIA_ROOT/hls/.tmp-<video id>-next/             a new version of a ready video, being made
    MEDIA_ROOT/hls/.tmp-<video id>-<name>            a transcode's ffmpeg logs and thumbnail
    MEDIA_ROOT/hls/.old-<video id>-<token>           the previous output, while a new one is swapped in

A video's first transcode writes straight into its folder, so viewers can watch while it grows
(video.pipeline.progressive decides when); `index.m3u8` is rewritten by rename and lists finished
segments only. A new version of a video that is already complete is made in `.tmp-<id>-next/` and
renamed to the video's folder when it is done, so a reader sees the old output or the new one,
never a mix. The names ffmpeg and the pipeline keep for themselves start with a dot and so can
never match a rung, playlist or segment name in a URL.

With MEDIA_STORAGE=s3 the same files are objects, one prefix per version:

    hls/<video id>/<version>/master.m3u8, .../<rung>/index.m3u8, .../<rung>/000.ts ...

A transcode uploads its set under a new version while it encodes (each segment before the
playlist that lists it), and the row's `hls_version` names the version viewers get: from the
moment a first transcode is playable, or, for a new version of a complete video, once it is
complete; other versions are leftovers to remove. The work folder (`.tmp-<id>-next/`, on the
worker's own disk) is then only scratch: the encode's files and the downloaded source.
"""

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MASTER_PLAYLIST = "master.m3u8"
RUNG_PLAYLIST = "index.m3u8"
# ffmpeg writes its own playlist (by rename, finished segments only); the served one is made from it.
ENCODER_PLAYLIST = ".encoder.m3u8"
PLAN_FILE = ".plan.json"
# ffmpeg's pattern for segment files; the encoder never writes more than MAX_SEGMENTS of them.
SEGMENT_FILE_PATTERN = "%03d.ts"
MAX_SEGMENTS = 1000
ENDLIST = "#EXT-X-ENDLIST"
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CONTENT_TYPE = "video/MP2T"

# Rungs are named "<height>p" (120p ... 4320p); segments 000.ts ... 999.ts.
RUNG_NAME = re.compile(r"[1-9][0-9]{1,3}p")
SEGMENT_NAME = re.compile(r"[0-9]{3}\.ts")
# Thumbnails: plain path components under thumbnails/ (letters, digits, . _ -).
THUMBNAIL_COMPONENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")

WORK_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"


def hls_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "hls"


def thumbnails_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbnails"


def video_dir(video_id: int) -> Path:
    """Where a video's published rungs live."""
    return hls_root() / str(video_id)


def is_rung_name(name: str) -> bool:
    return RUNG_NAME.fullmatch(name) is not None


def is_segment_name(name: str) -> bool:
    return SEGMENT_NAME.fullmatch(name) is not None


def rung_playlist_uri(rung: str) -> str:
    """A rung's playlist as the master playlist names it (relative)."""
    return f"{rung}/{RUNG_PLAYLIST}"


@dataclass(frozen=True)
class WorkArea:
    """Where one transcode writes: the video's own folder (`in_place`, viewers may watch it grow) or
    a folder renamed into place at the end. Everything stays below hls/, so renames stay on one disk."""

    video_id: int
    in_place: bool

    @property
    def folder(self) -> Path:
        return video_dir(self.video_id) if self.in_place else _work_name(self.video_id, "next")

    @property
    def plan_file(self) -> Path:
        return self.folder / PLAN_FILE

    @property
    def thumbnail(self) -> Path:
        return _work_name(self.video_id, "thumbnail.jpg")

    def log(self, index: int) -> Path:
        """The stderr of the transcode's ffmpeg process number `index`."""
        return _work_name(self.video_id, f"ffmpeg-{index}.log")

    def rung_folder(self, rung: str) -> Path:
        return self.folder / rung

    def rung_playlist(self, rung: str) -> Path:
        return self.folder / rung / RUNG_PLAYLIST

    def encoder_playlist(self, rung: str) -> Path:
        return self.folder / rung / ENCODER_PLAYLIST

    @property
    def source(self) -> Path:
        """Where a source kept in the bucket is downloaded to for the encode."""
        return _work_name(self.video_id, "source")


def _work_name(video_id: int, name: str) -> Path:
    return hls_root() / f"{WORK_PREFIX}{video_id}-{name}"


def work_area_reset(area: WorkArea) -> None:
    """Empty the area's folder (a fresh start, nothing to resume) and its logs and thumbnail."""
    remove(area.folder)
    work_area_remove_scratch(area)
    area.folder.mkdir(parents=True)


def work_area_remove_scratch(area: WorkArea) -> None:
    """Remove what only the running transcode needs: logs, the thumbnail file, half-written segments."""
    for path in hls_root().glob(f"{WORK_PREFIX}{area.video_id}-*"):
        if path != area.folder:
            remove(path)
    if area.folder.is_dir():
        for path in area.folder.glob("*/*.tmp"):
            remove(path)


def work_area_finish(area: WorkArea) -> None:
    """Remove ffmpeg's playlists and the plan file once the served playlists are final."""
    remove(area.plan_file)
    for path in area.folder.glob(f"*/{ENCODER_PLAYLIST}"):
        remove(path)
    work_area_remove_scratch(area)


def work_area_clean(video_id: int) -> None:
    """Remove every unpublished leftover of a video: work folders, logs, thumbnails, old outputs."""
    root = hls_root()
    if not root.is_dir():
        return
    for prefix in (WORK_PREFIX, OLD_PREFIX):
        for path in root.glob(f"{prefix}{video_id}-*"):
            remove(path)


def work_area_videos() -> dict[int, list[Path]]:
    """The work folders and files below this host's hls/ (a transcode in progress or the
    leftovers of a killed one, old outputs), by video id."""
    root, found = hls_root(), {}
    if not root.is_dir():
        return found
    for prefix in (WORK_PREFIX, OLD_PREFIX):
        for path in root.glob(f"{prefix}*"):
            video_id = path.name.removeprefix(prefix).partition("-")[0]
            if video_id.isdigit():
                found.setdefault(int(video_id), []).append(path)
    return found


def publish(area: WorkArea) -> Path:
    """Swap the work folder in as the video's folder; return the previous output's new name (to remove
    after the database commit), which does not exist when there was none (or the area was in place)."""
    final = video_dir(area.video_id)
    old = final.with_name(f"{OLD_PREFIX}{area.video_id}-{uuid.uuid4().hex[:12]}")
    if area.in_place:
        return old
    if final.exists():
        final.rename(old)
    area.folder.rename(final)
    return old


def playlist_is_complete(text: str) -> bool:
    """Does this media playlist end (a finished rung), or may it still grow?"""
    return any(line.strip() == ENDLIST for line in text.splitlines()[-3:])


def unfinished_output_remove(video_id: int, *, keep_finished: bool) -> None:
    """Remove a video's work in progress: its work folders and, unless `keep_finished` (its folder
    holds a finished version), its folder too (a first transcode writes there)."""
    work_area_clean(video_id)
    if not keep_finished:
        remove(video_dir(video_id))


def video_files_remove(video_id: int) -> None:
    """Remove a video's published output and its unpublished leftovers."""
    remove(video_dir(video_id))
    work_area_clean(video_id)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --- Keys in the bucket (MEDIA_STORAGE=s3) ---------------------------------------------------


def hls_video_prefix(video_id: int) -> str:
    """Every HLS object of a video, whatever its version, is below this prefix."""
    return f"hls/{video_id}/"


def hls_version_prefix(video_id: int, version: str) -> str:
    return f"{hls_video_prefix(video_id)}{version}/"


def hls_key(video_id: int, version: str, *names: str) -> str:
    """The key of a file of a published set, e.g. hls_key(7, "ab12", "480p", "000.ts")."""
    return hls_version_prefix(video_id, version) + "/".join(names)


def hls_retired_prefix(video_id: int | None = None) -> str:
    """Markers of replaced versions kept for viewers who still play them (one empty object per
    version, its LastModified the moment it was replaced)."""
    return "hls-retired/" if video_id is None else f"hls-retired/{video_id}/"


def hls_retired_key(video_id: int, version: str) -> str:
    return f"{hls_retired_prefix(video_id)}{version}"


def hls_content_type(name: str) -> str:
    return PLAYLIST_CONTENT_TYPE if name.endswith(".m3u8") else SEGMENT_CONTENT_TYPE


def finished_segments(folder: Path) -> list[Path]:
    """Segments of a work folder that ffmpeg has finished: it writes them in order, one at a time,
    so every segment of a rung but the newest is complete."""
    finished = []
    for rung in sorted(path for path in folder.iterdir() if path.is_dir()):
        names = sorted(path.name for path in rung.iterdir() if is_segment_name(path.name))
        finished += [rung / name for name in names[:-1]]
    return finished


def output_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """A finished work folder's files in upload order: (segments, playlists), the rung playlists
    before the master playlist, so a playlist is only stored after everything it lists."""
    rungs = sorted(path for path in folder.iterdir() if path.is_dir())
    segments = [path for rung in rungs for path in sorted(rung.iterdir()) if is_segment_name(path.name)]
    playlists = [rung / RUNG_PLAYLIST for rung in rungs if (rung / RUNG_PLAYLIST).is_file()]
    return segments, [*playlists, folder / MASTER_PLAYLIST]
