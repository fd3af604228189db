"""Running the ladder's ffmpeg commands with progress, and making the thumbnail."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from video import layout
from video.pipeline.ffmpeg import playlists
from video.pipeline.ffmpeg.ladder import TranscodePlan, build_transcode_command
from video.pipeline.ffmpeg.process import FFMPEG, TranscodeError, read_tail, run, source_input, tail

# Encodes run at a lower CPU priority, so on a host shared with gunicorn a transcode takes the idle
# cores and web requests keep theirs (see the soak figures in docs/BENCHMARKS.md).
FFMPEG_NICENESS = 10
# The higher rungs' process runs at a lower priority still, so while both run the start rungs (which
# viewers wait for) take the larger share of the CPU; the job also pauses it outright while the
# start rungs need every core (RunningEncode.hold, video.pipeline.transcode).
LATER_RUNGS_EXTRA_NICENESS = 5
THUMBNAIL_TIMEOUT = 300
THUMBNAIL_KEYFRAMES = 5  # the thumbnail is the most representative of these (from 10 % in) ...
THUMBNAIL_FRAMES = 50  # ... or of these frames, for a source with no keyframe there
STEADY_AFTER = 2.0  # seconds of output before an encoder's speed is measured without its start
RECENT_SECONDS = 4.0  # the window of RunningEncode.recent_speed

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
    """Run the whole plan in one ffmpeg process into `plan.output_dir`, then write the complete
    playlists; return what was produced. (The job runs two processes and publishes as it goes:
    video.pipeline.progressive; this is the plain form, for tools and benchmarks.)"""
    prepare_folders(plan)
    run_ffmpeg(
        build_transcode_command(plan),
        duration=plan.probe.duration,
        log_path=log_path,
        on_progress=on_progress,
        timeout=timeout,
    )
    return write_complete_playlists(plan)


def prepare_folders(plan: TranscodePlan) -> None:
    for planned in plan.rungs:
        (plan.output_dir / planned.rung.name).mkdir(parents=True, exist_ok=True)


def write_complete_playlists(plan: TranscodePlan) -> list[playlists.RungInfo]:
    """Each rung's VOD playlist from the segments ffmpeg listed, and the master playlist."""
    for planned in plan.rungs:
        folder = plan.output_dir / planned.rung.name
        segments = playlists.parse_media_playlist(folder / layout.ENCODER_PLAYLIST)
        playlists.write_media_playlist(
            folder / layout.RUNG_PLAYLIST, segments, segment_seconds=plan.segment_seconds, complete=True
        )
        (folder / layout.ENCODER_PLAYLIST).unlink()
    rungs = [playlists.describe_rung(plan, planned) for planned in plan.rungs]
    playlists.write_master_playlist(plan.output_dir / layout.MASTER_PLAYLIST, rungs, plan.fps)
    return rungs


def _die_with_parent(extra_niceness: int = 0) -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGKILL ffmpeg when the worker that started it dies (no orphaned encodes),
    and lower its CPU priority."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    with contextlib.suppress(OSError):
        os.nice(FFMPEG_NICENESS + extra_niceness)


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


class RunningEncode:
    """One ffmpeg process writing `-progress pipe:1`, followed by a thread: `position` is how many
    seconds of media it has encoded in this run, `speed` media seconds per wall-clock second.

    The speed is measured from ffmpeg's first output on, once that is STEADY_AFTER seconds old:
    what it will do next, without its one-time start (opening the input, x264's lookahead), which
    made a fast encoder look slow for its first seconds. `recent_speed` is the pace of the last
    RECENT_SECONDS: what it does now, with the CPU it has now."""

    def __init__(self, command: Sequence[str], *, log_path: str | os.PathLike, extra_niceness: int = 0):
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed by close(), after the process
        self.log_path = log_path
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            preexec_fn=partial(_die_with_parent, extra_niceness) if os.name == "posix" else None,
        )
        self.started_at = time.monotonic()
        self.ended_at: float | None = None
        self.held = False  # stopped with SIGSTOP (hold) until released
        self.position = 0.0
        self.first_output: tuple[float, float] | None = None  # (when, position)
        self.outputs: collections.deque[tuple[float, float]] = collections.deque()  # (when, position)
        self.outputs_lock = threading.Lock()  # the reader thread adds, `recent_speed` reads
        self.reader = threading.Thread(target=self._follow, daemon=True)
        self.reader.start()

    def _follow(self) -> None:
        for raw in self.process.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us":
                with contextlib.suppress(ValueError):
                    self.position = max(self.position, int(value) / 1e6)
                now = time.monotonic()
                if self.first_output is None and self.position > 0:
                    self.first_output = (now, self.position)
                with self.outputs_lock:
                    self.outputs.append((now, self.position))
                    # Keep one report older than the window, to measure the whole window from.
                    while len(self.outputs) > 2 and self.outputs[1][0] <= now - RECENT_SECONDS:
                        self.outputs.popleft()

    @property
    def running(self) -> bool:
        if self.ended_at is None and self.process.poll() is not None:
            self.ended_at = time.monotonic()
        return self.ended_at is None

    @property
    def speed(self) -> float:
        self.running  # noqa: B018 - records the end time
        now = self.ended_at or time.monotonic()
        if self.first_output is not None and now - self.first_output[0] >= STEADY_AFTER:
            return (self.position - self.first_output[1]) / (now - self.first_output[0])
        elapsed = now - self.started_at
        return self.position / elapsed if elapsed > 0 else 0.0

    @property
    def recent_speed(self) -> float:
        """Media seconds per second over the last RECENT_SECONDS (`speed` until ffmpeg has
        reported for that long)."""
        self.running  # noqa: B018 - records the end time
        now = self.ended_at or time.monotonic()
        with self.outputs_lock:
            outputs = list(self.outputs)
        if self.first_output is None or not outputs or now - outputs[0][0] < RECENT_SECONDS:
            return self.speed
        since, then = next(
            (moment, position) for moment, position in reversed(outputs) if moment <= now - RECENT_SECONDS
        )
        return (self.position - then) / (now - since)

    def hold(self, held: bool) -> None:
        """Stop the process where it is (SIGSTOP) or let it go on (SIGCONT). A held process keeps
        its memory and files and takes no CPU; its speed counts the time it is held."""
        if held == self.held or not self.running:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGSTOP if held else signal.SIGCONT)
        self.held = held

    def close(self) -> None:
        """Kill the process if it still runs (held or not), and release its pipe and log."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(timeout=5)
        self.process.stdout.close()
        self.log.close()

    def failure(self) -> TranscodeError | None:
        if self.process.returncode == 0:
            return None
        return _failure(self.process.returncode, read_tail(self.log_path))


def run_together(
    commands: Sequence[Sequence[str]],
    *,
    log_paths: Sequence[str | os.PathLike],
    watch: Callable[[list[RunningEncode]], bool],
    interval: float = 0.5,
    timeout: float | None = None,
) -> bool:
    """Run ffmpeg commands at once, the first at the usual priority and the others lower; call
    `watch` with them as soon as they are started (it may hold some), every `interval` seconds while
    they run and once when all have ended. Return
    False when `watch` said stop (every process is then killed), True when all succeeded; raise
    the first TranscodeError otherwise."""
    encodes: list[RunningEncode] = []
    first_failure = None
    try:
        for index, (command, log_path) in enumerate(zip(commands, log_paths, strict=True)):
            extra = LATER_RUNGS_EXTRA_NICENESS if index else 0
            encodes.append(RunningEncode(command, log_path=log_path, extra_niceness=extra))
        started = time.monotonic()
        if not watch(encodes):
            return False
        while first_failure is None and any(encode.running for encode in encodes):
            time.sleep(interval)
            ended = [encode.failure() for encode in encodes if not encode.running]
            first_failure = next((error for error in ended if error), None)
            if first_failure is None and not watch(encodes):
                return False
            if timeout and time.monotonic() - started > timeout:
                raise TranscodeError(f"ffmpeg took longer than {int(timeout)} seconds and was stopped.")
    finally:
        for encode in encodes:
            encode.close()
    if first_failure is not None:
        raise first_failure
    return watch(encodes)


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
    """Write a JPEG of a representative frame (ffmpeg's `thumbnail` filter) from early in the film.

    It runs while the start rungs are encoded, which viewers wait for too, so it is cheap: the
    filter picks among the next THUMBNAIL_KEYFRAMES keyframes only (the decoder skips every other
    frame), at the encoders' priority. A source with no keyframe after that point (one keyframe at
    the start, as some screen recorders write) gets the best of THUMBNAIL_FRAMES decoded frames."""
    start = min(duration * 0.1, 30.0) if duration > 2 else 0.0
    scale = f"scale=-2:'min({max_height},ih)':flags=bicubic"
    for skip, frames in ((["-skip_frame", "nokey"], THUMBNAIL_KEYFRAMES), ([], THUMBNAIL_FRAMES)):
        command = [FFMPEG, "-nostdin", "-v", "error", "-y", *skip, "-ss", f"{start:.3f}"]
        command += source_input(source, container)
        command += ["-map", "0:v:0", "-vf", f"thumbnail={frames},{scale},format=yuvj420p", "-frames:v", "1"]
        command += ["-q:v", "3", "-f", "image2", str(destination)]
        Path(destination).unlink(missing_ok=True)  # (a killed run's)
        result = run(command, timeout=THUMBNAIL_TIMEOUT, preexec_fn=_die_with_parent)
        if result.returncode == 0 and Path(destination).is_file():
            return
    raise TranscodeError("The thumbnail could not be generated.", tail(result.stderr))
