"""Signed segment URLs: the rung playlist authorises a viewer once, and its segment URIs carry the
proof, so a segment needs no token check and no database query.

A signed URI is ``000.ts?exp=<unix time>&uid=<user id>&sig=<signature>``. The signature is
HMAC-SHA256 over ``<video id>/<rung>/<segment>:<user id>:<exp>``, base64url without padding, with
HLS_SIGNING_KEY (or, when that is empty, a key derived from SECRET_KEY). nginx checks the same
signature itself (nginx/hls.js), so the format here and there must stay the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from django.conf import settings

from video import layout

SIGNATURE_PARAMETERS = ("exp", "uid", "sig")


def signing_key() -> bytes:
    if settings.HLS_SIGNING_KEY:
        return settings.HLS_SIGNING_KEY.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"videoflix.hls-segment-urls", hashlib.sha256).digest()


def signature(
    key: bytes, *, video_id: int, rung: str, segment: str, user_id: int | str, expires: int | str
) -> str:
    message = f"{video_id}/{rung}/{segment}:{user_id}:{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def expiry(now: float | None = None) -> int:
    """When URLs signed now expire: at least HLS_SIGNED_URL_SECONDS from now, rounded up to a
    window, so a playlist fetched twice in one window is the same bytes (and can answer 304)."""
    window = settings.HLS_SIGNED_URL_WINDOW_SECONDS
    now = time.time() if now is None else now
    return (int(now) // window + 1) * window + settings.HLS_SIGNED_URL_SECONDS


def sign_query(key: bytes, *, video_id: int, rung: str, segment: str, user_id: int, expires: int) -> str:
    sig = signature(key, video_id=video_id, rung=rung, segment=segment, user_id=user_id, expires=expires)
    return f"exp={expires}&uid={user_id}&sig={sig}"


@dataclass(frozen=True)
class SignedRequest:
    video_id: int
    rung: str
    segment: str
    query: str


def verify(key: bytes, request: SignedRequest, now: float | None = None) -> bool:
    """Is the query a valid, unexpired signature for this segment? Each parameter must appear
    exactly once; the signature is compared in constant time."""
    values = parse_qs(request.query, keep_blank_values=True)
    if any(len(values.get(name, ())) != 1 for name in SIGNATURE_PARAMETERS):
        return False
    expires, user_id, sig = (values[name][0] for name in SIGNATURE_PARAMETERS)
    if not (expires.isascii() and expires.isdigit() and user_id.isascii() and user_id.isdigit()):
        return False
    if int(expires) <= (time.time() if now is None else now):
        return False
    # The strings as sent, not their numbers: "042" was never signed.
    expected = signature(
        key,
        video_id=request.video_id,
        rung=request.rung,
        segment=request.segment,
        user_id=user_id,
        expires=expires,
    )
    return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))


def sign_playlist(text: str, *, video_id: int, rung: str, user_id: int) -> str:
    """The media playlist with every segment URI signed for this user; other lines unchanged."""
    key, expires = signing_key(), expiry()
    lines = []
    for line in text.splitlines():
        name = line.strip()
        if name and not name.startswith("#") and layout.is_segment_name(name):
            query = sign_query(
                key, video_id=video_id, rung=rung, segment=name, user_id=user_id, expires=expires
            )
            line = f"{name}?{query}"
        lines.append(line)
    return "\n".join(lines) + "\n"
