"""Serving HLS files and thumbnails from MEDIA_ROOT.

Nothing here knows about models or DRF: callers pass names taken from the URL, this module
checks them strictly, finds the file without ever leaving the folder it was given, and answers
with conditional (ETag/Last-Modified, 304), range (206/416) and caching headers.

Two ways to send the bytes, chosen by ``settings.HLS_SERVE_MODE``:

* ``"django"``: a ``FileResponse`` around the open file descriptor. Under gunicorn Django hands
  it to ``wsgi.file_wrapper``, which sends it with ``sendfile(2)`` starting at the current
  offset for ``Content-Length`` bytes, so a range is sent by the kernel too; the file is never
  read into memory.
* ``"x-accel"``: Django only authorises and checks; an empty answer with ``X-Accel-Redirect``
  points nginx at an ``internal`` location aliasing ``MEDIA_ROOT/hls/``, and nginx sends the
  bytes with its own range and conditional handling.
"""

import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_http_date_safe

from core.exceptions import error_body

PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CONTENT_TYPE = "video/MP2T"

MASTER_PLAYLIST = "master.m3u8"
RUNG_PLAYLIST = "index.m3u8"
# Rungs are written as "<height>p" (120p ... 4320p); segments as 000.ts, 001.ts, ... 1000.ts.
RUNG_NAME = re.compile(r"[1-9][0-9]{1,3}p")
SEGMENT_NAME = re.compile(r"[0-9]{3,6}\.ts")
# Thumbnails: one or more plain path components under thumbnails/ (letters, digits, . _ -).
THUMBNAIL_COMPONENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")

STREAM_BLOCK_SIZE = 64 * 1024
SERVE_MODE_DJANGO = "django"
SERVE_MODE_X_ACCEL = "x-accel"


class FileNotServable(Exception):
    """The name is invalid, the file is missing, or it is not a regular file inside the folder."""


@dataclass(frozen=True)
class ServableFile:
    path: Path
    relative: str  # the path below the served root, as nginx would see it
    size: int
    mtime: float
    mtime_ns: int

    @property
    def etag(self) -> str:
        # Strong validator (needed for If-Range): changes whenever the bytes may have changed.
        return f'"{self.mtime_ns:x}-{self.size:x}"'

    @property
    def last_modified(self) -> int:
        return int(self.mtime)


def hls_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "hls"


def thumbnails_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbnails"


def is_valid_rung(name: str) -> bool:
    return RUNG_NAME.fullmatch(name) is not None


def is_valid_segment(name: str) -> bool:
    return SEGMENT_NAME.fullmatch(name) is not None


def locate(root: Path, *names: str) -> ServableFile:
    """The regular file ``root/names...``, refusing anything that would leave ``root``.

    Every name must already have passed a strict pattern; this is the second line: no empty,
    dot or separator-bearing component, no NUL byte, and the real path (symlinks resolved)
    must be exactly the joined path, so no symlink anywhere below ``root`` is followed.
    Raises FileNotServable otherwise.
    """
    for name in names:
        if (
            not name
            or name in (".", "..")
            or "/" in name
            or "\\" in name
            or "\x00" in name
            or os.path.isabs(name)
        ):
            raise FileNotServable(name)
    real_root = os.path.realpath(root)
    expected = os.path.join(real_root, *names)
    real = os.path.realpath(expected)
    if real != expected or os.path.commonpath([real_root, real]) != real_root:
        raise FileNotServable(expected)
    try:
        status = os.stat(real, follow_symlinks=False)
    except (OSError, ValueError) as exc:
        raise FileNotServable(expected) from exc
    if not stat.S_ISREG(status.st_mode):
        raise FileNotServable(expected)
    return ServableFile(
        path=Path(real),
        relative="/".join(names),
        size=status.st_size,
        mtime=status.st_mtime,
        mtime_ns=status.st_mtime_ns,
    )


@lru_cache(maxsize=1024)
def _playlist_uris(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    # Keyed by mtime and size as well, so a rewritten playlist is parsed again.
    with open(path, encoding="utf-8", errors="replace") as playlist:
        return frozenset(
            line.strip() for line in playlist if line.strip() and not line.lstrip().startswith("#")
        )


def playlist_lists(playlist: ServableFile, uri: str) -> bool:
    """Does the media playlist reference ``uri`` (a plain segment name)?"""
    return uri in _playlist_uris(str(playlist.path), playlist.mtime_ns, playlist.size)


def serve_mode() -> str:
    mode = getattr(settings, "HLS_SERVE_MODE", SERVE_MODE_DJANGO)
    return SERVE_MODE_X_ACCEL if mode == SERVE_MODE_X_ACCEL else SERVE_MODE_DJANGO


def private_cache_control() -> str:
    return f"private, max-age={int(getattr(settings, 'HLS_CACHE_MAX_AGE', 3600))}"


def hls_file_response(request, file: ServableFile, *, content_type: str):
    """Answer with an HLS file below MEDIA_ROOT/hls in the configured serving mode."""
    if serve_mode() == SERVE_MODE_X_ACCEL:
        return accel_redirect_response(file, content_type=content_type)
    return file_response(request, file, content_type=content_type, cache_control=private_cache_control())


def accel_redirect_response(file: ServableFile, *, content_type: str) -> HttpResponse:
    """An empty answer telling nginx which internal URI to send; nginx handles Range and 304."""
    prefix = getattr(settings, "HLS_ACCEL_REDIRECT_PREFIX", "/protected-hls/")
    response = HttpResponse(content_type=content_type)
    response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(file.relative)
    response["Cache-Control"] = private_cache_control()
    # How long nginx's authorisation cache may reuse this answer for the same URL and credentials.
    response["X-Accel-Expires"] = str(max(int(getattr(settings, "HLS_ACCEL_AUTH_CACHE_SECONDS", 0)), 0))
    return response


def file_response(request, file: ServableFile, *, content_type: str, cache_control: str):
    """A 200, 206, 304, 412 or 416 answer for ``file``; the bytes go out by sendfile."""
    headers = {
        "Content-Type": content_type,
        "ETag": file.etag,
        "Last-Modified": http_date(file.last_modified),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
    }
    prototype = HttpResponse(headers=headers)
    conditional = get_conditional_response(
        request, etag=file.etag, last_modified=file.last_modified, response=prototype
    )
    if conditional is not prototype:
        return conditional

    byte_range = None
    if request.method == "GET" and _if_range_passes(request, file):
        byte_range = parse_range(request.META.get("HTTP_RANGE"), file.size)
        if byte_range == UNSATISFIABLE:
            response = JsonResponse(error_body("The requested range is not satisfiable."), status=416)
            response["Content-Range"] = f"bytes */{file.size}"
            response["Accept-Ranges"] = "bytes"
            return response

    try:
        descriptor = os.open(file.path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise FileNotServable(str(file.path)) from exc
    handle = os.fdopen(descriptor, "rb", buffering=0)
    start, end = byte_range if byte_range else (0, file.size - 1)
    length = max(end - start + 1, 0)
    handle.seek(start)
    response = FileResponse(BoundedFile(handle, length), status=206 if byte_range else 200)
    response.block_size = STREAM_BLOCK_SIZE
    for name, value in headers.items():
        response[name] = value
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{file.size}"
    return response


UNSATISFIABLE = (-1, -1)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single ``bytes=`` range, None to send the whole file.

    Malformed headers and multi-range requests are ignored (RFC 9110 allows it); a range that
    starts past the end answers UNSATISFIABLE.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0:
            return UNSATISFIABLE
        return (max(size - suffix, 0), size - 1) if size else UNSATISFIABLE
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(end, size - 1)


def _if_range_passes(request, file: ServableFile) -> bool:
    if_range = request.META.get("HTTP_IF_RANGE")
    if not if_range:
        return True
    if if_range.startswith('"'):
        return if_range == file.etag
    since = parse_http_date_safe(if_range)
    return since is not None and since == file.last_modified


class BoundedFile:
    """A file opened at the range start that reads at most ``length`` bytes.

    It keeps ``fileno()`` so gunicorn's file wrapper can ``sendfile`` from the current offset
    for Content-Length bytes; servers without sendfile read it block by block through
    ``read()``, which stops at the end of the range.
    """

    def __init__(self, handle, length: int):
        self._handle = handle
        self._remaining = length
        self.name = handle.name if isinstance(handle.name, str) else ""

    def fileno(self) -> int:
        return self._handle.fileno()

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._handle.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()
