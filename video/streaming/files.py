"""Finding a file below a served root without leaving it, and answering for it over HTTP.

Nothing here knows about models, DRF or who may see the file. `locate` checks the names it is
given and opens the file without following any symlink; `plan_answer` decides the status and
headers of the answer (conditional requests, one byte range) from the request's headers. This is
the one place where Range and conditional requests are handled; the Django views and the signed
segment handler both send what it plans, the bytes going out by sendfile.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.http import http_date, parse_etags, parse_http_date_safe

from core.exceptions import error_body

STREAM_BLOCK_SIZE = 64 * 1024
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening something that is not a regular file (a FIFO) must not hang the worker.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class FileNotServable(Exception):
    """The name is invalid, the file is missing, or it is not a regular file inside the folder."""


class ServableFile:
    """An open regular file found below a served root. Use it as a context manager: the descriptor
    is closed on exit unless an answer has taken it (``take()``) to send it."""

    def __init__(self, descriptor: int, status: os.stat_result):
        self._descriptor: int | None = descriptor
        self.size = status.st_size
        self.mtime = int(status.st_mtime)
        # Strong validator (needed for If-Range): changes whenever the bytes may have changed.
        self.etag = f'"{status.st_mtime_ns:x}-{status.st_size:x}"'

    def read_all(self) -> bytes:
        return os.pread(self._descriptor, self.size, 0)

    def take(self, start: int = 0):
        """The descriptor as a blocking, unbuffered file object at ``start``: what a WSGI server's
        file wrapper hands to ``sendfile(2)``."""
        descriptor, self._descriptor = self._descriptor, None
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb", buffering=0)
        handle.seek(start)
        return handle

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def locate(root: Path, *names: str) -> ServableFile:
    """Open the regular file ``root/names...`` without ever leaving ``root``.

    Every name must already have passed a strict pattern; this is the second line: no empty,
    dot or separator-bearing component and no NUL byte, and the path is walked one component at
    a time with ``openat(O_NOFOLLOW)`` from ``root``, so no symlink below ``root`` is followed,
    and a symlink swapped in while the request runs cannot redirect it either. ``root`` itself
    may be a symlink (a mounted volume). Raises FileNotServable otherwise.
    """
    if not names or any(not name or name in (".", "..") or set(name) & {"/", "\\", "\x00"} for name in names):
        raise FileNotServable("/".join(names))
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise FileNotServable(str(root)) from exc
    try:
        for name in names[:-1]:
            inner = os.open(name, _DIRECTORY_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = inner
        descriptor = os.open(names[-1], _FILE_FLAGS, dir_fd=folder)
    except OSError as exc:
        raise FileNotServable("/".join(names)) from exc
    finally:
        os.close(folder)
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise FileNotServable("/".join(names))
    return ServableFile(descriptor, status)


@dataclass
class Answer:
    """What to send for a file: status, headers, and which bytes (none for 304/412/416 and HEAD)."""

    status: int
    headers: dict[str, str]
    start: int = 0
    length: int = 0
    error: str = ""  # the sentence of a 412 or 416 answer


def plan_answer(file: ServableFile, *, method: str, headers, content_type: str, cache_control: str) -> Answer:
    """Decide the answer for a GET or HEAD of ``file``. ``headers`` maps WSGI names
    (``HTTP_RANGE``, ``HTTP_IF_NONE_MATCH``...) to values, as ``request.META`` or a WSGI environ do."""
    base = {"ETag": file.etag, "Last-Modified": http_date(file.mtime), "Cache-Control": cache_control}
    precondition = _preconditions(file, method, headers)
    if precondition == 304:
        return Answer(304, base)
    if precondition == 412:
        return Answer(412, {}, error="The file has changed since the condition was set.")
    base |= {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    byte_range = _range(file, headers) if method == "GET" else None
    if byte_range == UNSATISFIABLE:
        return Answer(416, {"Content-Range": f"bytes */{file.size}", "Accept-Ranges": "bytes"},
                      error="The requested range is not satisfiable.")  # fmt: skip
    if byte_range is None:
        return Answer(200, base | {"Content-Length": str(file.size)}, 0, file.size if method == "GET" else 0)
    start, end = byte_range
    base |= {"Content-Length": str(end - start + 1), "Content-Range": f"bytes {start}-{end}/{file.size}"}
    return Answer(206, base, start, end - start + 1)


def _preconditions(file: ServableFile, method: str, headers) -> int | None:
    """RFC 9110 section 13.2.2, in its order: 412 when If-Match/If-Unmodified-Since fail, 304
    when If-None-Match/If-Modified-Since say the client's copy is current."""
    if_match, if_none_match = headers.get("HTTP_IF_MATCH"), headers.get("HTTP_IF_NONE_MATCH")
    if if_match is not None:
        failed = if_match.strip() != "*" and file.etag not in parse_etags(if_match)
    else:
        since = parse_http_date_safe(headers.get("HTTP_IF_UNMODIFIED_SINCE") or "")
        failed = since is not None and file.mtime > since
    if failed:
        return 412
    if if_none_match is not None:
        tags = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
        current = if_none_match.strip() == "*" or file.etag in tags
    else:
        since = parse_http_date_safe(headers.get("HTTP_IF_MODIFIED_SINCE") or "")
        current = since is not None and file.mtime <= since
    return 304 if current else None


UNSATISFIABLE = (-1, -1)


def _range(file: ServableFile, headers) -> tuple[int, int] | None:
    """The range to send, after If-Range; None for the whole file."""
    if_range = headers.get("HTTP_IF_RANGE")
    if if_range and if_range != file.etag and parse_http_date_safe(if_range) != file.mtime:
        return None
    return parse_range(headers.get("HTTP_RANGE"), file.size)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single ``bytes=`` range, None to send the whole file.

    Malformed headers and multi-range requests are ignored (RFC 9110 allows it); a range that
    starts past the end answers UNSATISFIABLE.
    """
    unit, _, spec = (header or "").partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or "," in spec or not dash or not (first or last):
        return None
    if (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if not first:  # suffix range: the last N bytes
        return (max(size - int(last), 0), size - 1) if size and int(last) else UNSATISFIABLE
    start, end = int(first), int(last) if last else size - 1
    if last and end < start:
        return None
    return UNSATISFIABLE if start >= size else (start, min(end, size - 1))


class BoundedFile:
    """A file opened at the range start that reads at most ``length`` bytes.

    It keeps ``fileno()`` so gunicorn's file wrapper can ``sendfile`` from the current offset
    for Content-Length bytes; servers without sendfile read it block by block through ``read()``.
    """

    def __init__(self, handle, length: int):
        self._handle = handle
        self._remaining = length

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


def file_response(request, file: ServableFile, *, content_type: str, cache_control: str):
    """A Django answer (200, 206, 304, 412 or 416) for ``file``; a 200 or 206 takes its descriptor."""
    answer = plan_answer(
        file,
        method=request.method,
        headers=request.META,
        content_type=content_type,
        cache_control=cache_control,
    )
    if answer.error:
        response = JsonResponse(error_body(answer.error), status=answer.status)
    elif answer.status == 304 or request.method == "HEAD":
        response = HttpResponse(status=answer.status)
    else:
        response = FileResponse(BoundedFile(file.take(answer.start), answer.length), status=answer.status)
        response.block_size = STREAM_BLOCK_SIZE
    for name, value in answer.headers.items():
        response[name] = value
    return response
