"""Answers of the HLS endpoints when the media live in the bucket (MEDIA_STORAGE=s3).

Playlists are still answered by the API, which authorises the viewer; each segment URI in a rung
playlist is a time-limited signed URL of the store (or of its front, AWS_S3_CUSTOM_DOMAIN), so
segment bytes go from the store to the browser and never through a web process. A published
version never changes, so its playlists are read from the store once per catalogue version, and
a signed playlist is kept for its signing window (the same bytes for every viewer in it). The
playlists of a version still being made (`growing`, docs/PIPELINE.md) are read afresh every time:
the job uploads each one again after the segments it adds.
"""

from __future__ import annotations

import time

from video import layout, media_store
from video.catalogue.cache import catalogue_cached
from video.streaming import signing


def _text(video_id: int, version: str, *names: str) -> str | None:
    data = media_store.object_read(layout.hls_key(video_id, version, *names))
    return None if data is None else data.decode("utf-8", errors="replace")


def master_playlist(*, video_id: int, version: str, growing: bool = False) -> str | None:
    """The master playlist of a published version, None when it is missing."""
    if growing:
        return _text(video_id, version, layout.MASTER_PLAYLIST)
    return catalogue_cached(
        "s3-master",
        lambda: _text(video_id, version, layout.MASTER_PLAYLIST),
        video_id=video_id,
        hls_version=version,
    )


def rung_playlist(*, video_id: int, version: str, rung: str) -> str | None:
    """The rung's media playlist as stored (bare segment names), read from the store; None when
    it is missing."""
    return _text(video_id, version, rung, layout.RUNG_PLAYLIST)


def rung_playlist_signed(*, video_id: int, version: str, rung: str, growing: bool = False) -> str | None:
    """The rung's media playlist with every segment URI a signed URL of the store; None when the
    playlist is missing."""
    expires = signing.expiry()

    def compute() -> str | None:
        text = rung_playlist(video_id=video_id, version=version, rung=rung)
        if text is None:
            return None
        lifetime = max(1, expires - int(time.time()))
        lines = []
        for line in text.splitlines():
            name = line.strip()
            if name and not name.startswith("#") and layout.is_segment_name(name):
                line = media_store.signed_url(
                    layout.hls_key(video_id, version, rung, name), expires_in=lifetime
                )
            lines.append(line)
        return "\n".join(lines) + "\n"

    if growing:
        return compute()
    return catalogue_cached(
        "s3-rung", compute, video_id=video_id, hls_version=version, rung=rung, expires=expires
    )


def segment_url(*, video_id: int, version: str, rung: str, segment: str) -> str:
    """A signed URL of one segment, for a client that asked the API for it with credentials."""
    lifetime = max(1, signing.expiry() - int(time.time()))
    return media_store.signed_url(layout.hls_key(video_id, version, rung, segment), expires_in=lifetime)


def thumbnail_url(name: str) -> str:
    """A signed URL of a thumbnail (the bucket is private; the API's URL redirects to it)."""
    return media_store.signed_url(name, expires_in=signing.expiry() - int(time.time()))
