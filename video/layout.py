"""The HLS layout on disk and in the bucket: the one module that knows folder, key, playlist and
segment names.

    MEDIA_ROOT/hls/<video id>/master.m3u8            the master playlist, lowest rung first
    MEDIA_ROOT/hls/<video id>/<rung>/index.m3u8      one media playlist per rung ("480p")
    MEDIA_ROOT/hls/<video id>/<rung>/000.ts ...      its segments, three digits (000-999)
    MEDIA_ROOT/hls/.tmp-<video id>-<token>[...]      a transcode in progress (folder, log, thumbnail)
    MEDIA_ROOT/hls/.old-<video id>-<token>           the previous output, while a new one is swapped in

A transcode writes into a work folder and renames it to the video's folder when it succeeds, so a
reader sees the old output or the new one, never a mix. The work-folder names start with a dot and
so can never match a video id in a URL.

With MEDIA_STORAGE=s3 the same files are objects, one prefix per published version:

    hls/<video id>/<version>/master.m3u8, .../<rung>/index.m3u8, .../<rung>/000.ts ...

A transcode uploads its set under a new version (the work area's token) and the row's
`hls_version` is switched to it in one transaction; other versions are leftovers to remove.
The work area (on the worker's own disk) is then only scratch: the encode's files and the
downloaded source.
"""

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MASTER_PLAYLIST = "master.m3u8"
RUNG_PLAYLIST = "index.m3u8"
# ffmpeg's pattern for segment files; the encoder never writes more than MAX_SEGMENTS of them.
SEGMENT_FILE_PATTERN = "%03d.ts"
MAX_SEGMENTS = 1000
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
    """The files of one transcode in progress, all below hls/ so the final rename stays on one disk."""

    video_id: int
    token: str

    @property
    def folder(self) -> Path:
        return hls_root() / f"{WORK_PREFIX}{self.video_id}-{self.token}"

    @property
    def log(self) -> Path:
        return self.folder.with_name(self.folder.name + ".log")

    @property
    def thumbnail(self) -> Path:
        return self.folder.with_name(self.folder.name + ".jpg")

    @property
    def source(self) -> Path:
        """Where a source kept in the bucket is downloaded to for the encode."""
        return self.folder.with_name(self.folder.name + ".source")


def work_area_create(video_id: int) -> WorkArea:
    """A fresh, empty work folder for a transcode of the video (earlier leftovers are removed)."""
    work_area_clean(video_id)
    area = WorkArea(video_id=video_id, token=uuid.uuid4().hex[:12])
    area.folder.mkdir(parents=True)
    return area


def work_area_remove(area: WorkArea) -> None:
    for path in (area.folder, area.log, area.thumbnail, area.source):
        remove(path)


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
    after the database commit), which does not exist when there was none."""
    final = video_dir(area.video_id)
    old = final.with_name(f"{OLD_PREFIX}{area.video_id}-{uuid.uuid4().hex[:12]}")
    if final.exists():
        final.rename(old)
    area.folder.rename(final)
    return old


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
