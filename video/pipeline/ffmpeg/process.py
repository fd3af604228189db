"""Running ffmpeg and ffprobe, and the errors they end in."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")
PROBE_TIMEOUT = 60
STDERR_TAIL_CHARS = 2000

# The audio-video containers Videoflix accepts, by ffmpeg demuxer, with the extension a source is
# stored under. Everything else (playlists such as HLS, concat lists, text, images, lavfi and
# network formats) is refused: ffprobe and ffmpeg may use no other demuxer, so a file cannot make
# them open another file.
CONTAINERS = {
    "mov": ".mp4",  # MP4, MOV, M4V, 3GP
    "matroska": ".mkv",  # Matroska, WebM
    "avi": ".avi",
    "mpegts": ".ts",
    "mpeg": ".mpg",  # MPEG program streams (VOB)
    "flv": ".flv",
    "asf": ".wmv",  # WMV
    "mxf": ".mxf",
}


def is_url(source) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def source_input(path, container: str | None = None) -> list[str]:
    """The input options for reading a source: the local file only (or, for a presigned URL of
    the object store, that URL over HTTP only), through the accepted demuxers only (or exactly
    ``container``, once it is known)."""
    protocols = "http,https,tcp,tls" if is_url(path) else "file"
    options = ["-protocol_whitelist", protocols, "-format_whitelist", ",".join(CONTAINERS)]
    if container:
        options += ["-f", container]
    return [*options, "-i", path if is_url(path) else f"file:{path}"]


class ProbeError(Exception):
    """The file is not a usable video; `message` is a sentence for a person."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def for_staff(self) -> str:
        return f"{self.message}\n\n{self.detail}" if self.detail else self.message


class TranscodeError(Exception):
    """ffmpeg failed. `permanent` is True when the input itself is bad (retrying cannot help)."""

    def __init__(self, message: str, stderr_tail: str = "", *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.stderr_tail = stderr_tail
        self.permanent = permanent

    def for_staff(self) -> str:
        if not self.stderr_tail:
            return self.message
        return f"{self.message}\n\nLast lines from ffmpeg:\n{self.stderr_tail}"


def run(
    args: Sequence[str], timeout: float = PROBE_TIMEOUT, *, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess:
    """Run a short ffmpeg/ffprobe command and capture its output as text (`preexec_fn`: run in
    the child before ffmpeg starts)."""
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def tail(text: str, chars: int = STDERR_TAIL_CHARS) -> str:
    text = text.strip()
    if len(text) <= chars:
        return text
    return "…" + text[-chars:].split("\n", 1)[-1]


def read_tail(path: str | os.PathLike, chars: int = STDERR_TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - chars * 2))
            return tail(handle.read().decode("utf-8", "replace"), chars)
    except OSError:
        return ""
