"""The HLS output of a playable video as it is served, in both storage modes: its master playlist,
a rung's playlist (as published, or signed for one user) and the sizes of a rung's segments.

With MEDIA_STORAGE=local the files are read below MEDIA_ROOT/hls (video.streaming.files, never
following a symlink) and segment URIs are signed with video.streaming.signing; with s3 the version
in the bucket is read (video.streaming.bucket) and segment URIs become presigned URLs of the
store. The viewer API (video.streaming.views) and the staff preview (video.staff) both ask here,
so a playlist is found and signed the same way for a viewer and for staff.
"""

from __future__ import annotations

import os

from video import layout, media_store
from video.catalogue.selectors import PlayableOutput
from video.streaming import bucket, files, signing


def _local_text(video_id: int, *names: str) -> str | None:
    try:
        with files.locate(layout.hls_root(), str(video_id), *names) as file:
            return file.read_all().decode("utf-8", errors="replace")
    except files.FileNotServable:
        return None


def master_playlist(*, video_id: int, output: PlayableOutput) -> str | None:
    """The master playlist (rung URIs relative to it), None when it is missing."""
    if media_store.enabled():
        return bucket.master_playlist(video_id=video_id, version=output.version, growing=not output.ready)
    return _local_text(video_id, layout.MASTER_PLAYLIST)


def rung_playlist(*, video_id: int, output: PlayableOutput, rung: str) -> str | None:
    """The rung's media playlist as published (bare segment names), None when it is missing."""
    if media_store.enabled():
        return bucket.rung_playlist(video_id=video_id, version=output.version, rung=rung)
    return _local_text(video_id, rung, layout.RUNG_PLAYLIST)


def rung_playlist_signed(*, video_id: int, output: PlayableOutput, rung: str, user_id: int) -> str | None:
    """The rung's media playlist with every segment URI signed: `<segment>?exp=&uid=&sig=`
    relative to the playlist (local), or an absolute presigned URL of the store (s3). None when
    the playlist is missing. A growing playlist is read afresh on every call."""
    if media_store.enabled():
        return bucket.rung_playlist_signed(
            video_id=video_id, version=output.version, rung=rung, growing=not output.ready
        )
    text = _local_text(video_id, rung, layout.RUNG_PLAYLIST)
    if text is None:
        return None
    return signing.sign_playlist(text, video_id=video_id, rung=rung, user_id=user_id)


def rung_segment_sizes(*, video_id: int, output: PlayableOutput, rung: str) -> dict[str, int]:
    """Bytes of each segment stored for the rung, by segment name: one directory listing (local)
    or one bucket listing of the version's rung prefix (s3), never a request per segment."""
    if media_store.enabled():
        prefix = layout.hls_key(video_id, output.version, rung, "")
        sizes = media_store.keys_with_sizes(prefix)
        return {
            key.removeprefix(prefix): size
            for key, size in sizes.items()
            if layout.is_segment_name(key.removeprefix(prefix))
        }
    try:
        with os.scandir(layout.video_dir(video_id) / rung) as entries:
            return {
                entry.name: entry.stat(follow_symlinks=False).st_size
                for entry in entries
                if layout.is_segment_name(entry.name) and entry.is_file(follow_symlinks=False)
            }
    except OSError:
        return {}
