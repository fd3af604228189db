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
import threading
from collections import OrderedDict
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


class ServableFile:
    """An open regular file found below a served root, with what its headers need.

    Use it as a context manager: the descriptor is closed on exit unless a response has taken
    it (``take()``) to stream it.
    """

    def __init__(self, descriptor: int, relative: str, status: os.stat_result):
        self._descriptor: int | None = descriptor
        self.relative = relative  # the path below the served root, as nginx sees it
        self.size = status.st_size
        self.mtime = status.st_mtime
        self.mtime_ns = status.st_mtime_ns
        self.identity = (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)

    @property
    def etag(self) -> str:
        # Strong validator (needed for If-Range): changes whenever the bytes may have changed.
        return f'"{self.mtime_ns:x}-{self.size:x}"'

    @property
    def last_modified(self) -> int:
        return int(self.mtime)

    def read_all(self) -> bytes:
        chunks, offset = [], 0
        while offset < self.size:
            chunk = os.pread(self._descriptor, self.size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def take(self) -> int:
        descriptor, self._descriptor = self._descriptor, None
        return descriptor

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self.take())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def hls_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "hls"


def thumbnails_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbnails"


def is_valid_rung(name: str) -> bool:
    return RUNG_NAME.fullmatch(name) is not None


def is_valid_segment(name: str) -> bool:
    return SEGMENT_NAME.fullmatch(name) is not None


_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening something that is not a regular file (a FIFO) must not hang the worker.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _check_names(names: tuple[str, ...]) -> None:
    if not names:
        raise FileNotServable("")
    for name in names:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            raise FileNotServable(name)


def _open_folder(root: Path, names: tuple[str, ...]) -> int:
    """A descriptor of ``root/names...``, every component below ``root`` opened with O_NOFOLLOW."""
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        raise FileNotServable(str(root)) from exc
    try:
        for name in names:
            inner = os.open(name, _DIRECTORY_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = inner
    except (OSError, ValueError) as exc:
        os.close(folder)
        raise FileNotServable("/".join(names)) from exc
    return folder


def _open_file(folder: int, name: str, relative: str) -> ServableFile:
    try:
        descriptor = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except (OSError, ValueError) as exc:
        raise FileNotServable(relative) from exc
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise FileNotServable(relative)
    return ServableFile(descriptor, relative, status)


def locate(root: Path, *names: str) -> ServableFile:
    """Open the regular file ``root/names...`` without ever leaving ``root``.

    Every name must already have passed a strict pattern; this is the second line: no empty,
    dot or separator-bearing component and no NUL byte, and the path is walked one component at
    a time with ``openat(O_NOFOLLOW)`` from ``root``, so no symlink below ``root`` is followed,
    and a symlink swapped in while the request runs cannot redirect it either. ``root`` itself
    may be a symlink (a mounted volume). Raises FileNotServable otherwise.
    """
    _check_names(names)
    folder = _open_folder(root, names[:-1])
    try:
        return _open_file(folder, names[-1], "/".join(names))
    finally:
        os.close(folder)


class SegmentNotListed(FileNotServable):
    """The segment's name is not one that its rung's playlist lists."""


def locate_listed_segment(root: Path, video: str, rung: str, segment: str) -> ServableFile:
    """Open ``root/video/rung/segment`` if the rung's playlist lists it, walking the folders once.

    The same rules as ``locate``; raises SegmentNotListed when the playlist does not name the
    segment, FileNotServable when anything is missing or not a regular file.
    """
    _check_names((video, rung, segment))
    folder = _open_folder(root, (video, rung))
    try:
        with _open_file(folder, RUNG_PLAYLIST, f"{video}/{rung}/{RUNG_PLAYLIST}") as playlist:
            if not playlist_lists(playlist, segment):
                raise SegmentNotListed(segment)
        return _open_file(folder, segment, f"{video}/{rung}/{segment}")
    finally:
        os.close(folder)


_playlist_cache: OrderedDict = OrderedDict()
_playlist_lock = threading.Lock()
PLAYLIST_CACHE_SIZE = 1024


def _playlist_uris(playlist: ServableFile) -> frozenset[str]:
    # Keyed by device, inode, mtime and size, so a rewritten playlist is parsed again.
    with _playlist_lock:
        uris = _playlist_cache.get(playlist.identity)
    if uris is None:
        text = playlist.read_all().decode("utf-8", errors="replace")
        uris = frozenset(
            line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
        )
        with _playlist_lock:
            _playlist_cache[playlist.identity] = uris
            while len(_playlist_cache) > PLAYLIST_CACHE_SIZE:
                _playlist_cache.popitem(last=False)
    return uris


def playlist_lists(playlist: ServableFile, uri: str) -> bool:
    """Does the media playlist reference ``uri`` (a plain segment name)?"""
    return uri in _playlist_uris(playlist)


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


def accel_redirect_headers(file: ServableFile, *, content_type: str) -> dict[str, str]:
    """An empty answer's headers telling nginx which internal URI to send; nginx handles Range
    and 304 itself."""
    prefix = getattr(settings, "HLS_ACCEL_REDIRECT_PREFIX", "/protected-hls/")
    return {
        "Content-Type": content_type,
        "X-Accel-Redirect": prefix.rstrip("/") + "/" + quote(file.relative),
        "Cache-Control": private_cache_control(),
        # How long nginx's authorisation cache may reuse this answer for the same URL and credentials.
        "X-Accel-Expires": str(max(int(getattr(settings, "HLS_ACCEL_AUTH_CACHE_SECONDS", 0)), 0)),
    }


def accel_redirect_response(file: ServableFile, *, content_type: str) -> HttpResponse:
    response = HttpResponse()
    for name, value in accel_redirect_headers(file, content_type=content_type).items():
        response[name] = value
    return response


def file_headers(file: ServableFile, *, content_type: str, cache_control: str) -> dict[str, str]:
    """The headers of a whole-file answer, apart from Content-Length."""
    return {
        "Content-Type": content_type,
        "ETag": file.etag,
        "Last-Modified": http_date(file.last_modified),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
    }


def open_for_sendfile(file: ServableFile, start: int = 0):
    """Take the file's descriptor as a blocking, unbuffered file object positioned at ``start``,
    which is what a WSGI server's file wrapper hands to ``sendfile(2)``."""
    descriptor = file.take()
    os.set_blocking(descriptor, True)
    handle = os.fdopen(descriptor, "rb", buffering=0)
    handle.seek(start)
    return handle


def file_response(request, file: ServableFile, *, content_type: str, cache_control: str):
    """A 200, 206, 304, 412 or 416 answer for ``file``; the bytes go out by sendfile.

    A 200 or 206 takes ownership of the file's descriptor (the response closes it)."""
    headers = file_headers(file, content_type=content_type, cache_control=cache_control)
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

    start, end = byte_range if byte_range else (0, file.size - 1)
    length = max(end - start + 1, 0)
    handle = open_for_sendfile(file, start)
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
