"""Reading the playlists ffmpeg writes, and writing the ones that are served: each rung's media
playlist (growing while the rung is encoded, VOD once it is complete) and the master playlist.

Served playlists are written to a temporary name and renamed, so a reader sees the old one or the
new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from video import layout
from video.pipeline.ffmpeg.ladder import PlannedRung, TranscodePlan
from video.pipeline.ffmpeg.process import FFPROBE, TranscodeError, run

_EXTINF = re.compile(r"#EXTINF:([0-9.]+)")
H264_PROFILES = {"Baseline": 0x42, "Constrained Baseline": 0x42, "Main": 0x4D, "High": 0x64}


@dataclass
class RungInfo:
    """What the master playlist says of a produced rung."""

    name: str
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    segments: list[tuple[str, float]] = field(default_factory=list)


def parse_media_playlist(path: str | os.PathLike, *, missing_ok: bool = False) -> list[tuple[str, float]]:
    """The (segment URI, duration) pairs of a media playlist (none when `missing_ok` and it does
    not exist)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        if missing_ok:
            return []
        raise
    return parse_media_text(text)


def parse_media_text(text: str) -> list[tuple[str, float]]:
    segments: list[tuple[str, float]] = []
    pending: float | None = None
    for line in text.splitlines():
        line = line.strip()
        match = _EXTINF.match(line)
        if match:
            pending = float(match.group(1))
        elif line and not line.startswith("#") and pending is not None:
            segments.append((line, pending))
            pending = None
    return segments


def _codecs(first_segment: Path, has_audio: bool) -> str:
    """The RFC 6381 codecs string of a rung, read from its first segment."""
    entries = ["-select_streams", "v:0", "-show_entries", "stream=profile,level", "-of", "json"]
    result = run([FFPROBE, "-v", "error", *entries, str(first_segment)])
    profile, level = 0x64, 40
    with contextlib.suppress(ValueError, KeyError, IndexError, json.JSONDecodeError):
        stream = json.loads(result.stdout)["streams"][0]
        profile = H264_PROFILES.get(stream.get("profile"), 0x64)
        level = int(stream.get("level") or 40)
    constraints = 0xC0 if profile == 0x42 else 0x00
    video = f"avc1.{profile:02x}{constraints:02x}{level:02x}"
    return f"{video},mp4a.40.2" if has_audio else video


def describe_rung(
    plan: TranscodePlan,
    planned: PlannedRung,
    segments: Sequence[tuple[str, float]] | None = None,
    *,
    sizes: Mapping[Path, int] | None = None,
) -> RungInfo:
    """Measure what a produced rung needs: peak and average bitrate from its real segments (those
    its served playlist lists, or `segments` so far; `sizes` of those not on this disk)."""
    folder = plan.output_dir / planned.rung.name
    if segments is None:
        segments = parse_media_playlist(folder / layout.RUNG_PLAYLIST)
    if not segments:
        raise TranscodeError(f"ffmpeg produced no segments for {planned.rung.name}.")
    total_bytes, total_seconds, peak = 0, 0.0, 0
    for name, seconds in segments:
        path = folder / name
        size = sizes[path] if sizes and path in sizes and not path.is_file() else path.stat().st_size
        total_bytes += size
        total_seconds += seconds
        if seconds > 0.5:
            peak = max(peak, int(size * 8 / seconds))
    average = int(total_bytes * 8 / total_seconds) if total_seconds else 0
    return RungInfo(
        name=planned.rung.name,
        width=planned.width,
        height=planned.height,
        bandwidth=max(peak, average),
        average_bandwidth=average,
        codecs=_codecs(folder / segments[0][0], plan.probe.has_audio),
        segments=list(segments),
    )


def write_media_playlist(
    path: str | os.PathLike, segments: Sequence[tuple[str, float]], *, segment_seconds: int, complete: bool
) -> None:
    """A rung's served playlist. While the rung is still encoded it is an EVENT playlist that
    starts players at 0 (EXT-X-START), so hls.js plays from the beginning and reloads it until
    EXT-X-ENDLIST instead of jumping to the newest segment; once complete it is a VOD playlist."""
    longest = max((seconds for _, seconds in segments), default=segment_seconds)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        f"#EXT-X-TARGETDURATION:{max(segment_seconds, math.ceil(longest - 0.001))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        f"#EXT-X-PLAYLIST-TYPE:{'VOD' if complete else 'EVENT'}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-START:TIME-OFFSET=0",
    ]
    for name, seconds in segments:
        lines += [f"#EXTINF:{seconds:.6f},", name]
    if complete:
        lines.append(layout.ENDLIST)
    write_atomically(Path(path), "\n".join(lines) + "\n")


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_master_playlist(path: str | os.PathLike, rungs: Sequence[RungInfo], fps: Fraction) -> None:
    """The master playlist, lowest rung first, with BANDWIDTH, RESOLUTION and CODECS per rung."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in rungs:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rung.bandwidth},AVERAGE-BANDWIDTH={rung.average_bandwidth},"
            f'RESOLUTION={rung.width}x{rung.height},FRAME-RATE={float(fps):.3f},CODECS="{rung.codecs}"'
        )
        lines.append(layout.rung_playlist_uri(rung.name))
    write_atomically(Path(path), "\n".join(lines) + "\n")
