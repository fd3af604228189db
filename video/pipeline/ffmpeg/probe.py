"""What a source file is, read with ffprobe, and whether its end decodes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from video.pipeline.ffmpeg.process import (
    CONTAINERS,
    FFMPEG,
    FFPROBE,
    ProbeError,
    is_url,
    run,
    source_input,
    tail,
)

NOT_READABLE = (
    "This file could not be read as a video. Videoflix accepts MP4/MOV, Matroska/WebM, AVI, MPEG-TS, "
    "MPEG-PS, FLV, WMV and MXF files; this one is another kind of file, or it is damaged or incomplete."
)
TOO_SLOW = "The file took too long to read; it may be damaged."


@dataclass(frozen=True)
class ProbeResult:
    duration: float
    width: int  # as displayed: after rotation and sample aspect ratio
    height: int
    fps: Fraction
    has_audio: bool
    rotation: int = 0
    container: str = ""  # the demuxer that read it, a key of CONTAINERS

    def as_dict(self) -> dict:
        """A JSON-ready form, kept on the video row so the worker need not probe again."""
        return {**asdict(self), "fps": str(self.fps)}

    @classmethod
    def from_dict(cls, values: dict) -> ProbeResult:
        return cls(**{**values, "fps": Fraction(values["fps"])})


def probe(path: str | os.PathLike) -> ProbeResult:
    """Read a file's (or a presigned URL's) duration, displayed size, frame rate and audio; raise
    ProbeError if unusable."""
    info = _ffprobe(path)
    streams = info.get("streams") or []
    video = _picture_stream(streams)
    width, height, rotation = _displayed_size(video)
    return ProbeResult(
        duration=_duration(info, video),
        width=width,
        height=height,
        fps=_frame_rate(video),
        has_audio=any(stream.get("codec_type") == "audio" for stream in streams),
        rotation=rotation,
        container=_container(info),
    )


def _ffprobe(path: str | os.PathLike) -> dict:
    if not is_url(path):
        if not Path(path).is_file():
            raise ProbeError("The file could not be found.")
        if Path(path).stat().st_size == 0:
            raise ProbeError("The file is empty.")
    try:
        result = run(
            [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", *source_input(path)]
        )
    except subprocess.TimeoutExpired as error:
        raise ProbeError(TOO_SLOW) from error
    if result.returncode != 0:
        raise ProbeError(NOT_READABLE, tail(result.stderr))
    try:
        return json.loads(result.stdout or "{}")
    except json.JSONDecodeError as error:
        raise ProbeError(NOT_READABLE) from error


def _picture_stream(streams: list[dict]) -> dict:
    """The first real video stream (cover art does not count); refuses sound-only files. Images never
    get this far: their demuxers (image2, *_pipe, gif) are not among the accepted containers."""
    videos = [
        stream
        for stream in streams
        if stream.get("codec_type") == "video" and not (stream.get("disposition") or {}).get("attached_pic")
    ]
    if not videos:
        if any(stream.get("codec_type") == "audio" for stream in streams):
            raise ProbeError("This file contains only sound and no picture; please upload a video file.")
        raise ProbeError("This file contains no video stream; please upload a video file.")
    return videos[0]


def _container(info: dict) -> str:
    names = ((info.get("format") or {}).get("format_name") or "").split(",")
    for name in names:
        if name in CONTAINERS:
            return name
    raise ProbeError(NOT_READABLE)


def _duration(info: dict, video: dict) -> float:
    for candidate in ((info.get("format") or {}).get("duration"), video.get("duration")):
        with contextlib.suppress(TypeError, ValueError):
            if candidate is not None and float(candidate) > 0:
                return float(candidate)
    raise ProbeError("The length of this video could not be determined; it may be damaged.")


def _displayed_size(video: dict) -> tuple[int, int, int]:
    """Width and height as a player shows them, and the rotation applied to get there."""
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise ProbeError("The picture size of this video could not be read; it may be damaged.")
    sample_aspect = _fraction(video.get("sample_aspect_ratio"))
    if sample_aspect and sample_aspect != 1:
        width = max(2, round(width * sample_aspect))
    rotation = _rotation(video)
    if rotation in (90, 270):
        width, height = height, width
    return width, height, rotation


def _frame_rate(video: dict) -> Fraction:
    fps = _fraction(video.get("avg_frame_rate")) or _fraction(video.get("r_frame_rate"))
    if fps is None or fps > 240:
        fps = _fraction(video.get("r_frame_rate")) or Fraction(25)
    return fps


def _fraction(value: str | None) -> Fraction | None:
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


_DECODE_PROBLEM = re.compile(r"partial file|Invalid data|Error while decoding|corrupt")


def check_decodable_end(path: str | os.PathLike, duration: float, *, seconds: float = 2.0) -> None:
    """Decode the last seconds of the file; raise ProbeError when it is truncated or damaged.

    A file whose index survived (for example an MP4 with its index at the front) probes fine
    even when its end is missing; only decoding the end shows it.
    """
    start = f"{max(0.0, duration - seconds):.3f}"
    command = [FFMPEG, "-nostdin", "-v", "error", "-ss", start, *source_input(path)]
    try:
        result = run([*command, "-map", "0:v:0", "-f", "null", "-"])
    except subprocess.TimeoutExpired as error:
        raise ProbeError(TOO_SLOW) from error
    stderr = result.stderr or ""
    if result.returncode != 0 or _DECODE_PROBLEM.search(stderr):
        raise ProbeError(
            "This video appears to be truncated or damaged (its end cannot be read); please upload the "
            "complete file.",
            tail(stderr),
        )


def check_upload(path: str | os.PathLike) -> ProbeResult:
    """The checks an upload must pass before it is stored: it probes as a video and its end decodes.
    `path` may be a presigned URL of an object in the store (ffmpeg reads only what it needs)."""
    result = probe(path)
    check_decodable_end(path, result.duration)
    return result
