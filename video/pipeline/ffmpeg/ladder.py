"""The ladder: which rungs a source gets, at which sizes, and the ffmpeg commands that make them.

One ffmpeg command makes a group of rungs: the source is decoded once, `split` hands the frames to
one `scale` per rung, and every rung is encoded with libx264 + AAC into its own HLS folder. A video
is made by two such commands running at once (`split_for_start`): the rungs a viewer starts on,
which then run well ahead of real time, and the higher ones. Keyframes are forced on the same
timestamps in every rung (fixed GOP, no scene-cut keyframes), and every segment starts on one, so
players can switch rungs at any boundary.

A command can start at a segment boundary (`resume_from`, after a killed run): ffmpeg seeks the
source there, numbers its segments on from there and shifts its timestamps by as much, so the new
segments continue the old ones. Every run shifts by TIMESTAMP_BASE too: timestamps then never start
below zero, ffmpeg never moves them by the encoder's B-frame delay, and a run that starts at 0 and
one that starts at segment K put the same frame at the same time.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from video import layout
from video.pipeline.ffmpeg.probe import ProbeResult
from video.pipeline.ffmpeg.process import FFMPEG, source_input

MAX_FPS = 60
DEFAULT_SEGMENT_SECONDS = 4
# The rungs up to this short side are the ones a viewer starts on (the SPA loads 480p first).
START_RUNG_HEIGHT = 480
TIMESTAMP_BASE = 1.0  # seconds; more than x264's B-frame delay and AAC's priming


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: `height` is the short side; bitrates are caps in kbit/s."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int


# The documented ladder; VIDEO_RUNGS names a subset. The video caps are VBV ceilings near the top
# of Apple's HLS authoring ladder: CRF sets the quality and typical scenes stay well below them;
# they only stop grainy or busy scenes from spiking.
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


@dataclass(frozen=True)
class PlannedRung:
    rung: Rung
    width: int
    height: int


@dataclass(frozen=True)
class EncoderSettings:
    preset: str = "veryfast"
    crf: int = 23
    x264_params: str = ""
    threads: int = 0


@dataclass
class TranscodePlan:
    source: Path
    output_dir: Path
    probe: ProbeResult
    rungs: list[PlannedRung]
    segment_seconds: int
    fps: Fraction
    encoder: EncoderSettings


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
    planned = []
    for rung in [rung for rung in rungs if rung.height <= short] or [rungs[0]]:
        target = min(rung.height, short)
        if target == short:
            out_w, out_h = _even_down(width), _even_down(height)
        elif width >= height:
            out_w, out_h = _even(target * width / height), _even(target)
        else:
            out_w, out_h = _even(target), _even(target * height / width)
        planned.append(PlannedRung(rung=rung, width=out_w, height=out_h))
    return planned


def output_fps(probe_result: ProbeResult) -> Fraction:
    """The constant output frame rate: the source's average, capped at MAX_FPS."""
    if probe_result.fps > MAX_FPS:
        return Fraction(MAX_FPS)
    return probe_result.fps.limit_denominator(1001)


def segment_seconds_for(duration: float, preferred: int = DEFAULT_SEGMENT_SECONDS) -> int:
    """The preferred segment length, longer for very long films so that segment names stay 000-999."""
    return max(preferred, math.ceil(duration / (layout.MAX_SEGMENTS - 1)))


def build_plan(
    *,
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    probe_result: ProbeResult,
    rung_names: Iterable[str],
    segment_seconds: int = DEFAULT_SEGMENT_SECONDS,
    encoder: EncoderSettings | None = None,
) -> TranscodePlan:
    return TranscodePlan(
        source=Path(source),
        output_dir=Path(output_dir),
        probe=probe_result,
        rungs=plan_ladder(probe_result, rung_names),
        segment_seconds=segment_seconds_for(probe_result.duration, segment_seconds),
        fps=output_fps(probe_result),
        encoder=encoder or EncoderSettings(),
    )


def split_for_start(plan: TranscodePlan) -> list[TranscodePlan]:
    """The plan as one plan per ffmpeg process: the start rungs (up to START_RUNG_HEIGHT, or the
    lowest rung when none is that small), then the others when there are any."""
    start = [planned for planned in plan.rungs if planned.rung.height <= START_RUNG_HEIGHT] or plan.rungs[:1]
    rest = [planned for planned in plan.rungs if planned not in start]
    return [dataclasses.replace(plan, rungs=rungs) for rungs in (start, rest) if rungs]


def build_transcode_command(plan: TranscodePlan, *, resume_from: int = 0) -> list[str]:
    """One ffmpeg command that decodes once and writes every planned rung as HLS, from segment
    number `resume_from` on (0: from the start)."""
    start = resume_from * plan.segment_seconds
    command = [FFMPEG, "-nostdin", "-hide_banner", "-y", "-nostats", "-progress", "pipe:1"]
    command += ["-loglevel", "error"]
    if resume_from:
        command += ["-ss", f"{start}"]
    command += source_input(plan.source, plan.probe.container)
    command += ["-filter_complex", _filter_graph(plan)]
    if plan.encoder.threads:
        command += ["-filter_complex_threads", str(plan.encoder.threads)]
    for index, planned in enumerate(plan.rungs):
        command += ["-map", f"[v{index}]"]
        if plan.probe.has_audio:
            command += ["-map", "0:a:0"]
        command += _video_arguments(plan, planned.rung)
        if plan.probe.has_audio:
            command += ["-c:a", "aac", "-b:a", f"{planned.rung.audio_kbps}k", "-ac", "2", "-ar", "48000"]
        command += ["-output_ts_offset", f"{TIMESTAMP_BASE + start}"]
        command += _hls_arguments(plan, planned.rung, resume_from)
    return command


def _filter_graph(plan: TranscodePlan) -> str:
    """Decode once, make the frame rate constant, then one scaler per rung."""
    fps = f"{plan.fps.numerator}/{plan.fps.denominator}"
    outputs = "".join(f"[s{index}]" for index in range(len(plan.rungs)))
    graph = [f"[0:v:0]fps={fps},format=yuv420p,split={len(plan.rungs)}{outputs}"]
    for index, planned in enumerate(plan.rungs):
        graph.append(f"[s{index}]scale={planned.width}:{planned.height}:flags=bicubic,setsar=1[v{index}]")
    return ";".join(graph)


def _video_arguments(plan: TranscodePlan, rung: Rung) -> list[str]:
    gop = str(max(1, round(plan.fps * plan.segment_seconds)))
    encoder = plan.encoder
    arguments = [
        "-c:v", "libx264", "-preset", encoder.preset, "-profile:v", "high", "-crf", str(encoder.crf),
        "-maxrate", f"{rung.video_kbps}k", "-bufsize", f"{rung.video_kbps * 2}k",
        "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{plan.segment_seconds})", "-fps_mode", "cfr",
    ]  # fmt: skip
    if encoder.x264_params:
        arguments += ["-x264-params", encoder.x264_params]
    if encoder.threads:
        arguments += ["-threads", str(encoder.threads)]
    return arguments


def _hls_arguments(plan: TranscodePlan, rung: Rung, resume_from: int) -> list[str]:
    """ffmpeg's own playlist is an EVENT one, which ffmpeg always replaces by rename; `temp_file`
    writes each segment under a .tmp name until it is complete. So a reader of ffmpeg's playlist
    only ever sees finished segments."""
    folder = plan.output_dir / rung.name
    return [
        "-f", "hls", "-hls_time", str(plan.segment_seconds), "-hls_playlist_type", "event",
        "-hls_flags", "independent_segments+temp_file", "-hls_segment_type", "mpegts",
        "-start_number", str(resume_from),
        "-hls_segment_filename", str(folder / layout.SEGMENT_FILE_PATTERN),
        str(folder / layout.ENCODER_PLAYLIST),
    ]  # fmt: skip
