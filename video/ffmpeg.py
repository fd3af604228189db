"""Everything Videoflix knows about FFmpeg, with no Django in it.

Functions here take plain values (paths, a probe result, rung names) and return plain values
(dataclasses, argument lists, files on disk). The job and services around them decide what to
store. Commands are built as argument lists and run with `subprocess`, never through a shell.

The transcode is one ffmpeg process per video: the source is decoded once, `split` hands the
frames to one `scale` per rung, and every rung is encoded with libx264 + AAC into its own HLS
folder. Keyframes are forced on the same timestamps in every rung (fixed GOP, no scene-cut
keyframes), and every segment starts on one, so players can switch rungs at any boundary.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")

MAX_FPS = 60
DEFAULT_SEGMENT_SECONDS = 4
# Segment files are named 000.ts ... 999.ts (the streaming API accepts exactly three digits),
# so a long film gets longer segments instead of a 1000th file.
MAX_SEGMENTS = 1000
PROBE_TIMEOUT = 60
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: `height` is the short side; bitrates are caps in kbit/s."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int


# The documented ladder. A rung's name is what VIDEO_ALLOWED_RESOLUTIONS lists. The video caps are
# VBV ceilings near the top of Apple's HLS authoring ladder: CRF sets the quality and typical
# scenes stay well below them; they only stop grainy or busy scenes from spiking.
RUNGS: dict[str, Rung] = {
    rung.name: rung
    for rung in (
        Rung("120p", 120, 250, 64),
        Rung("240p", 240, 600, 64),
        Rung("360p", 360, 1000, 96),
        Rung("480p", 480, 2000, 128),
        Rung("720p", 720, 4500, 128),
        Rung("1080p", 1080, 7800, 160),
        Rung("1440p", 1440, 12000, 160),
        Rung("2160p", 2160, 20000, 192),
    )
}


class ProbeError(Exception):
    """The file is not a usable video; `str(error)` is a sentence for a person."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


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


@dataclass(frozen=True)
class ProbeResult:
    duration: float
    width: int  # as displayed: after rotation and sample aspect ratio
    height: int
    fps: Fraction
    has_audio: bool
    video_codec: str
    rotation: int = 0

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


@dataclass(frozen=True)
class PlannedRung:
    rung: Rung
    width: int
    height: int


@dataclass
class TranscodePlan:
    source: Path
    output_dir: Path
    probe: ProbeResult
    rungs: list[PlannedRung]
    segment_seconds: int
    fps: Fraction
    preset: str = "veryfast"
    crf: int = 23
    threads: int = 0
    x264_params: str = ""

    def playlist(self, planned: PlannedRung) -> Path:
        return self.output_dir / planned.rung.name / "index.m3u8"


@dataclass
class RenditionInfo:
    name: str
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    segments: list[tuple[str, float]] = field(default_factory=list)


# --- Probing ----------------------------------------------------------------------------------


def _run(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), capture_output=True, text=True, errors="replace", timeout=timeout, check=False
    )


def _tail(text: str, chars: int = STDERR_TAIL_CHARS) -> str:
    text = text.strip()
    if len(text) <= chars:
        return text
    return "…" + text[-chars:].split("\n", 1)[-1]


def _parse_fraction(value: str | None) -> Fraction | None:
    if not value or value in {"0/0", "N/A"}:
        return None
    try:
        fraction = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return fraction if fraction > 0 else None


def _rotation(stream: dict) -> int:
    for side_data in stream.get("side_data_list") or []:
        if "rotation" in side_data:
            with contextlib.suppress(TypeError, ValueError):
                return round(float(side_data["rotation"])) % 360
    with contextlib.suppress(TypeError, ValueError):
        return int((stream.get("tags") or {}).get("rotate", 0)) % 360
    return 0


def probe(path: str | os.PathLike) -> ProbeResult:
    """Read a file's duration, displayed size, frame rate and audio; raise ProbeError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise ProbeError("The file could not be found.")
    if path.stat().st_size == 0:
        raise ProbeError("The file is empty.")
    try:
        result = _run(
            [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
            timeout=PROBE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        raise ProbeError("The file took too long to read; it may be damaged.") from error
    if result.returncode != 0:
        raise ProbeError(
            "This file could not be read as a video. It may not be a video, or it may be damaged or "
            "incomplete.",
            _tail(result.stderr),
        )
    try:
        info = json.loads(result.stdout or "{}")
    except json.JSONDecodeError as error:
        raise ProbeError("This file could not be read as a video.") from error

    streams = info.get("streams") or []
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    if not videos:
        if has_audio:
            raise ProbeError("This file contains only sound and no picture; please upload a video file.")
        raise ProbeError("This file contains no video stream; please upload a video file.")
    video = videos[0]
    format_name = (info.get("format") or {}).get("format_name", "")
    if format_name.endswith("_pipe") or format_name in {"image2", "png_pipe", "gif"}:
        raise ProbeError("This is a still image, not a video; please upload a video file.")

    duration = None
    for candidate in ((info.get("format") or {}).get("duration"), video.get("duration")):
        with contextlib.suppress(TypeError, ValueError):
            if candidate is not None and float(candidate) > 0:
                duration = float(candidate)
                break
    if duration is None:
        raise ProbeError("The length of this video could not be determined; it may be damaged.")

    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise ProbeError("The picture size of this video could not be read; it may be damaged.")
    sample_aspect = _parse_fraction(video.get("sample_aspect_ratio"))
    if sample_aspect and sample_aspect != 1:
        width = max(2, round(width * sample_aspect))
    rotation = _rotation(video)
    if rotation in (90, 270):
        width, height = height, width

    fps = _parse_fraction(video.get("avg_frame_rate")) or _parse_fraction(video.get("r_frame_rate"))
    if fps is None or fps > 240:
        fps = _parse_fraction(video.get("r_frame_rate")) or Fraction(25)
    return ProbeResult(
        duration=duration,
        width=width,
        height=height,
        fps=fps,
        has_audio=has_audio,
        video_codec=video.get("codec_name", ""),
        rotation=rotation,
    )


def check_decodable_end(path: str | os.PathLike, duration: float, *, seconds: float = 2.0) -> None:
    """Decode the last seconds of the file; raise ProbeError when it is truncated or damaged.

    A file whose index survived (for example an MP4 with its index at the front) probes fine
    even when its end is missing; only decoding the end shows it.
    """
    start = max(0.0, duration - seconds)
    try:
        result = _run(
            [
                FFMPEG,
                "-nostdin",
                "-v",
                "error",
                "-ss",
                f"{start:.3f}",
                "-i",
                str(path),
                "-map",
                "0:v:0",
                "-f",
                "null",
                "-",
            ],
            timeout=PROBE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        raise ProbeError("The file took too long to read; it may be damaged.") from error
    stderr = result.stderr or ""
    if result.returncode != 0 or re.search(r"partial file|Invalid data|Error while decoding|corrupt", stderr):
        raise ProbeError(
            "This video appears to be truncated or damaged (its end cannot be read); please upload the "
            "complete file.",
            _tail(stderr),
        )


# --- Planning ---------------------------------------------------------------------------------


def _even(value: float) -> int:
    return max(2, round(value / 2.0) * 2)


def _even_down(value: int) -> int:
    return max(2, value - value % 2)


def plan_ladder(probe_result: ProbeResult, rung_names: Iterable[str]) -> list[PlannedRung]:
    """Pick the rungs to produce, lowest first, and their output sizes.

    Rungs taller than the source's short side are skipped (never upscale); a source smaller than
    the lowest rung still gets that one rung, at the source's own (even) size.
    """
    rungs = sorted({RUNGS[name] for name in rung_names}, key=lambda rung: rung.height)
    if not rungs:
        raise ValueError("The ladder is empty.")
    width, height = probe_result.width, probe_result.height
    short = min(width, height)
    chosen = [rung for rung in rungs if rung.height <= short] or [rungs[0]]
    planned = []
    for rung in chosen:
        target = min(rung.height, short)
        if target == short:
            out_w, out_h = _even_down(width), _even_down(height)
        elif width >= height:
            out_h = _even(target)
            out_w = _even(target * width / height)
        else:
            out_w = _even(target)
            out_h = _even(target * height / width)
        planned.append(PlannedRung(rung=rung, width=out_w, height=out_h))
    return planned


def output_fps(probe_result: ProbeResult) -> Fraction:
    """The constant output frame rate: the source's average, capped at MAX_FPS."""
    fps = probe_result.fps
    if fps > MAX_FPS:
        return Fraction(MAX_FPS)
    return fps.limit_denominator(1001)


def segment_seconds_for(duration: float, preferred: int = DEFAULT_SEGMENT_SECONDS) -> int:
    return max(preferred, math.ceil(duration / (MAX_SEGMENTS - 1)))


def build_plan(
    *,
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    probe_result: ProbeResult,
    rung_names: Iterable[str],
    segment_seconds: int = DEFAULT_SEGMENT_SECONDS,
    preset: str = "veryfast",
    crf: int = 23,
    threads: int = 0,
    x264_params: str = "",
) -> TranscodePlan:
    return TranscodePlan(
        source=Path(source),
        output_dir=Path(output_dir),
        probe=probe_result,
        rungs=plan_ladder(probe_result, rung_names),
        segment_seconds=segment_seconds_for(probe_result.duration, segment_seconds),
        fps=output_fps(probe_result),
        preset=preset,
        crf=crf,
        threads=threads,
        x264_params=x264_params,
    )


def build_transcode_command(plan: TranscodePlan) -> list[str]:
    """One ffmpeg command that decodes once and writes every planned rung as HLS."""
    count = len(plan.rungs)
    fps = f"{plan.fps.numerator}/{plan.fps.denominator}"
    # Decode once, make the frame rate constant, then one scaler per rung.
    graph = [f"[0:v:0]fps={fps},format=yuv420p,split={count}" + "".join(f"[s{i}]" for i in range(count))]
    for index, planned in enumerate(plan.rungs):
        graph.append(f"[s{index}]scale={planned.width}:{planned.height}:flags=bicubic,setsar=1[v{index}]")
    gop = max(1, round(plan.fps * plan.segment_seconds))
    command = [FFMPEG, "-nostdin", "-hide_banner", "-y", "-nostats", "-progress", "pipe:1"]
    command += ["-loglevel", "error", "-i", str(plan.source)]
    command += ["-filter_complex", ";".join(graph)]
    if plan.threads:
        command += ["-filter_complex_threads", str(plan.threads)]
    for index, planned in enumerate(plan.rungs):
        rung = planned.rung
        folder = plan.output_dir / rung.name
        command += ["-map", f"[v{index}]"]
        if plan.probe.has_audio:
            command += ["-map", "0:a:0"]
        command += [
            "-c:v", "libx264",
            "-preset", plan.preset,
            "-profile:v", "high",
            "-crf", str(plan.crf),
            "-maxrate", f"{rung.video_kbps}k",
            "-bufsize", f"{rung.video_kbps * 2}k",
            "-g", str(gop),
            "-keyint_min", str(gop),
            "-sc_threshold", "0",
            "-force_key_frames", f"expr:gte(t,n_forced*{plan.segment_seconds})",
            "-fps_mode", "cfr",
        ]  # fmt: skip
        if plan.x264_params:
            command += ["-x264-params", plan.x264_params]
        if plan.threads:
            command += ["-threads", str(plan.threads)]
        if plan.probe.has_audio:
            command += ["-c:a", "aac", "-b:a", f"{rung.audio_kbps}k", "-ac", "2", "-ar", "48000"]
        command += [
            "-f", "hls",
            "-hls_time", str(plan.segment_seconds),
            "-hls_playlist_type", "vod",
            "-hls_flags", "independent_segments",
            "-hls_segment_type", "mpegts",
            "-hls_segment_filename", str(folder / "%03d.ts"),
            str(folder / "index.m3u8"),
        ]  # fmt: skip
    return command


# --- Running ----------------------------------------------------------------------------------


# Encodes run at a lower CPU priority, so on a host shared with gunicorn a transcode takes the idle
# cores and web requests keep theirs (see the soak figures in docs/BENCHMARKS.md).
FFMPEG_NICENESS = 10


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL ffmpeg when the worker that started it dies (no orphaned encodes),
    and lower its CPU priority."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    with contextlib.suppress(OSError):
        os.nice(FFMPEG_NICENESS)


_INVALID_INPUT = re.compile(
    r"Invalid data found when processing input|moov atom not found|No such file or directory|"
    r"does not contain any stream|could not find codec parameters",
    re.IGNORECASE,
)


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
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and on_progress and duration > 0:
                    with contextlib.suppress(ValueError):
                        on_progress(max(0.0, min(100.0, int(value) / 1e6 / duration * 100)))
                if timeout and time.monotonic() - started > timeout:
                    raise TranscodeError(f"ffmpeg took longer than {int(timeout)} seconds and was stopped.")
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if process.returncode != 0:
        stderr_tail = read_tail(log_path)
        if process.returncode < 0:
            reason = f"ffmpeg was stopped by signal {-process.returncode}."
            raise TranscodeError(reason, stderr_tail)
        permanent = bool(_INVALID_INPUT.search(stderr_tail))
        reason = (
            "The source file could not be decoded; it is not a valid video or it is damaged."
            if permanent
            else f"ffmpeg failed with exit code {process.returncode}."
        )
        raise TranscodeError(reason, stderr_tail, permanent=permanent)


def read_tail(path: str | os.PathLike, chars: int = STDERR_TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - chars * 2))
            return _tail(handle.read().decode("utf-8", "replace"), chars)
    except OSError:
        return ""


def extract_thumbnail(
    source: str | os.PathLike, destination: str | os.PathLike, *, duration: float, max_height: int = 720
) -> None:
    """Write a JPEG of a representative frame (ffmpeg's `thumbnail` filter) from early in the film."""
    start = min(duration * 0.1, 30.0) if duration > 2 else 0.0
    scale = f"scale=-2:'min({max_height},ih)':flags=bicubic"
    result = _run(
        [
            FFMPEG,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            f"{start:.3f}",
            "-i",
            str(source),
            "-map",
            "0:v:0",
            "-vf",
            f"thumbnail=50,{scale},format=yuvj420p",
            "-frames:v",
            "1",
            "-q:v",
            "3",
            "-f",
            "image2",
            str(destination),
        ],
        timeout=300,
    )
    if result.returncode != 0 or not Path(destination).is_file():
        raise TranscodeError("The thumbnail could not be generated.", _tail(result.stderr))


# --- Playlists --------------------------------------------------------------------------------

_EXTINF = re.compile(r"#EXTINF:([0-9.]+)")


def parse_media_playlist(path: str | os.PathLike) -> list[tuple[str, float]]:
    """The (segment URI, duration) pairs of a media playlist."""
    segments: list[tuple[str, float]] = []
    pending: float | None = None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        match = _EXTINF.match(line)
        if match:
            pending = float(match.group(1))
        elif line and not line.startswith("#") and pending is not None:
            segments.append((line, pending))
            pending = None
    return segments


def _codecs(first_segment: Path, has_audio: bool) -> str:
    result = _run(
        [
            FFPROBE,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=profile,level",
            "-of",
            "json",
            str(first_segment),
        ],
        timeout=PROBE_TIMEOUT,
    )
    profile_ids = {"Baseline": 0x42, "Constrained Baseline": 0x42, "Main": 0x4D, "High": 0x64}
    profile, level = 0x64, 40
    with contextlib.suppress(ValueError, KeyError, IndexError, json.JSONDecodeError):
        stream = json.loads(result.stdout)["streams"][0]
        profile = profile_ids.get(stream.get("profile"), 0x64)
        level = int(stream.get("level") or 40)
    constraints = 0xC0 if profile == 0x42 else 0x00
    video = f"avc1.{profile:02x}{constraints:02x}{level:02x}"
    return f"{video},mp4a.40.2" if has_audio else video


def describe_rendition(plan: TranscodePlan, planned: PlannedRung) -> RenditionInfo:
    """Measure what a produced rung needs: peak and average bitrate from its real segments."""
    folder = plan.output_dir / planned.rung.name
    segments = parse_media_playlist(folder / "index.m3u8")
    if not segments:
        raise TranscodeError(f"ffmpeg produced no segments for {planned.rung.name}.")
    total_bytes = 0
    total_seconds = 0.0
    peak = 0
    for name, seconds in segments:
        size = (folder / name).stat().st_size
        total_bytes += size
        total_seconds += seconds
        if seconds > 0.5:
            peak = max(peak, int(size * 8 / seconds))
    average = int(total_bytes * 8 / total_seconds) if total_seconds else 0
    return RenditionInfo(
        name=planned.rung.name,
        width=planned.width,
        height=planned.height,
        bandwidth=max(peak, average),
        average_bandwidth=average,
        codecs=_codecs(folder / segments[0][0], plan.probe.has_audio),
        segments=segments,
    )


def write_master_playlist(
    path: str | os.PathLike, renditions: Sequence[RenditionInfo], fps: Fraction
) -> None:
    """The master playlist, lowest rung first, with BANDWIDTH, RESOLUTION and CODECS per rung."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},"
            f"AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f"RESOLUTION={rendition.width}x{rendition.height},"
            f'FRAME-RATE={float(fps):.3f},CODECS="{rendition.codecs}"'
        )
        lines.append(f"{rendition.name}/index.m3u8")
    Path(path).write_text("\n".join(lines) + "\n")


def transcode(
    plan: TranscodePlan,
    *,
    log_path: str | os.PathLike,
    on_progress: Callable[[float], None] | None = None,
    timeout: float | None = None,
) -> list[RenditionInfo]:
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
    renditions = [describe_rendition(plan, planned) for planned in plan.rungs]
    write_master_playlist(plan.output_dir / "master.m3u8", renditions, plan.fps)
    return renditions
