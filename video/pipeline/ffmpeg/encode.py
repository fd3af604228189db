"""Running the ladder's ffmpeg command with progress, and making the thumbnail."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from video import layout
from video.pipeline.ffmpeg import playlists
from video.pipeline.ffmpeg.ladder import TranscodePlan, build_transcode_command
from video.pipeline.ffmpeg.process import FFMPEG, TranscodeError, read_tail, run, source_input, tail

# Encodes run at a lower CPU priority, so on a host shared with gunicorn a transcode takes the idle
# cores and web requests keep theirs (see the soak figures in docs/BENCHMARKS.md).
FFMPEG_NICENESS = 10
THUMBNAIL_TIMEOUT = 300

_INVALID_INPUT = re.compile(
    r"Invalid data found when processing input|moov atom not found|No such file or directory|"
    r"does not contain any stream|could not find codec parameters",
    re.IGNORECASE,
)


def transcode(
    plan: TranscodePlan,
    *,
    log_path: str | os.PathLike,
    on_progress: Callable[[float], None] | None = None,
    timeout: float | None = None,
) -> list[playlists.RungInfo]:
    """Run the plan into `plan.output_dir` and write its master playlist; return what was produced."""
    for planned in plan.rungs:
        (plan.output_dir / planned.rung.name).mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        build_transcode_command(plan),
        duration=plan.probe.duration,
        log_path=log_path,
        on_progress=on_progress,
        timeout=timeout,
    )
    rungs = [playlists.describe_rung(plan, planned) for planned in plan.rungs]
    playlists.write_master_playlist(plan.output_dir / layout.MASTER_PLAYLIST, rungs, plan.fps)
    return rungs


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL ffmpeg when the worker that started it dies (no orphaned encodes),
    and lower its CPU priority."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    with contextlib.suppress(OSError):
        os.nice(FFMPEG_NICENESS)


def run_ffmpeg(
    command: Sequence[str],
    *,
    duration: float,
    log_path: str | os.PathLike,
    on_progress: Callable[[float], None] | None = None,
    timeout: float | None = None,
) -> None:
    """Run an ffmpeg command that writes `-progress pipe:1`; report 0-100 to `on_progress`.

    ffmpeg's stderr goes to `log_path` (never into memory). Raises TranscodeError on failure,
    with `permanent=True` when ffmpeg says the input is invalid.
    """
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )
        try:
            _follow_progress(process, duration, on_progress, timeout)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if process.returncode != 0:
        raise _failure(process.returncode, read_tail(log_path))


def _follow_progress(process, duration: float, on_progress, timeout: float | None) -> None:
    started = time.monotonic()
    for raw in process.stdout:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and on_progress and duration > 0:
            with contextlib.suppress(ValueError):
                on_progress(max(0.0, min(100.0, int(value) / 1e6 / duration * 100)))
        if timeout and time.monotonic() - started > timeout:
            raise TranscodeError(f"ffmpeg took longer than {int(timeout)} seconds and was stopped.")


def _failure(returncode: int, stderr_tail: str) -> TranscodeError:
    if returncode < 0:
        return TranscodeError(f"ffmpeg was stopped by signal {-returncode}.", stderr_tail)
    if _INVALID_INPUT.search(stderr_tail):
        message = "The source file could not be decoded; it is not a valid video or it is damaged."
        return TranscodeError(message, stderr_tail, permanent=True)
    return TranscodeError(f"ffmpeg failed with exit code {returncode}.", stderr_tail)


def extract_thumbnail(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    duration: float,
    container: str = "",
    max_height: int = 720,
) -> None:
    """Write a JPEG of a representative frame (ffmpeg's `thumbnail` filter) from early in the film."""
    start = min(duration * 0.1, 30.0) if duration > 2 else 0.0
    scale = f"scale=-2:'min({max_height},ih)':flags=bicubic"
    command = [
        FFMPEG,
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-ss",
        f"{start:.3f}",
        *source_input(source, container),
    ]
    command += ["-map", "0:v:0", "-vf", f"thumbnail=50,{scale},format=yuvj420p", "-frames:v", "1"]
    result = run([*command, "-q:v", "3", "-f", "image2", str(destination)], timeout=THUMBNAIL_TIMEOUT)
    if result.returncode != 0 or not Path(destination).is_file():
        raise TranscodeError("The thumbnail could not be generated.", tail(result.stderr))
