"""Running ffmpeg and ffprobe, and the errors they end in."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")
PROBE_TIMEOUT = 60
STDERR_TAIL_CHARS = 2000


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


def run(args: Sequence[str], timeout: float = PROBE_TIMEOUT) -> subprocess.CompletedProcess:
    """Run a short ffmpeg/ffprobe command and capture its output as text."""
    return subprocess.run(
        list(args), capture_output=True, text=True, errors="replace", timeout=timeout, check=False
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
