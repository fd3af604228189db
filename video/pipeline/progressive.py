"""What a running transcode has produced, rung by rung, and when a rung may be published.

ffmpeg lists each finished segment in its own playlist (layout.ENCODER_PLAYLIST). `Output` reads
those, keeps the served playlist of every rung (layout.RUNG_PLAYLIST) in step with them, and
remembers the segments of earlier runs, so a run that resumes after a killed one continues the
same playlists. No Django models here: the job (video.pipeline.transcode) decides what to store.

The no-stall rule (docs/PIPELINE.md, "Watching while it encodes"): a viewer who starts now reaches
media time t at wall time now + t. A rung that has produced `p` seconds of a `D`-second film at
`s` media seconds per second lists the segment that starts at t (t >= p, S seconds long) at
(min(t + S, D) - p) / s; the player learns of it at its next playlist reload, at most S + 1
seconds later (hls.js reloads an unfinished playlist every target duration; one more second for the
job's own polling). The rung never stalls when, for every such segment,

    (min(t + S, D) - p) / s + S + 1 <= t.

The left side grows more slowly than t when s > 1 and faster when s < 1, so only the first segment
(t = p) and the last one (t >= D - S) need checking. The measured speed is divided by
SPEED_MARGIN first (the machine may get busier), and a rung needs PLAYABLE_SEGMENTS segments
before anything else is considered. A viewer who started earlier is `w` seconds into the film and
reaches t at now + t - w: the same check with t - w on the right.

Start rungs first ("Start rungs first" in docs/PIPELINE.md): the higher rungs' process is held
(SIGSTOP) until the start rungs are published, and afterwards whenever the start rungs would stall
for a viewer PAUSE_HEADROOM seconds further into the film than anyone can be; it goes on once they
would not stall with RESUME_HEADROOM seconds to spare. Held, it takes no CPU, and the start rungs
run alone, well ahead of real time even where two processes sharing the cores would not be.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from video import layout
from video.pipeline.ffmpeg import ladder, playlists

# Two segments: hls.js starts with a buffer of one segment and the next one already listed, so its
# first playlist reload (one target duration later) finds the third in time.
PLAYABLE_SEGMENTS = 2
# The speed the rule assumes is the measured one divided by this (25 % slower than measured).
SPEED_MARGIN = 1.25
# Beyond one target duration, how late a player may learn of a new segment (the job polls ffmpeg's
# playlists twice a second).
RELOAD_SLACK = 1.0
# Hold the higher rungs when the start rungs have less than this to spare (seconds: more than the
# job's half-second polling lets the start rungs fall behind while both run) ...
PAUSE_HEADROOM = 1.0
# ... and let them go on when the start rungs have this much (two segments; fewer switches).
RESUME_HEADROOM = 8.0


def rung_never_stalls(
    *,
    produced: float,
    duration: float,
    speed: float,
    segment_seconds: float,
    finished: bool,
    watched: float = 0.0,
) -> bool:
    """Does a rung with `produced` seconds of `duration` encoded at `speed` stay ahead of a viewer
    `watched` seconds into the film (0: one who starts now, when the rung is published)?"""
    if finished:
        return True
    if produced < PLAYABLE_SEGMENTS * segment_seconds or speed <= 0:
        return False
    speed /= SPEED_MARGIN
    reload = segment_seconds + RELOAD_SLACK
    first_ok = (min(produced + segment_seconds, duration) - produced) / speed + reload <= produced - watched
    last_start = max(produced, duration - segment_seconds)
    last_ok = (duration - produced) / speed + reload <= last_start - watched
    return first_ok and last_ok


@dataclass
class RungOutput:
    """One rung's finished segments (name -> seconds, in order) and whether viewers may see it."""

    name: str
    group: int
    served_playlist: Path
    encoder_playlist: Path
    segments: dict[str, float] = field(default_factory=dict)
    complete: bool = False
    published: bool = False

    @property
    def folder(self) -> Path:
        return self.served_playlist.parent

    @property
    def produced(self) -> float:
        return sum(self.segments.values())

    def contiguous(self) -> int:
        """How many segments from 000 on exist without a gap (where a resumed run starts)."""
        count = 0
        while f"{count:03d}.ts" in self.segments:
            count += 1
        return count


class Output:
    """The rungs of one transcode in its work area, grouped as the ffmpeg processes make them."""

    def __init__(self, area: layout.WorkArea, groups: list[ladder.TranscodePlan]):
        self.area, self.groups = area, groups
        self.segment_seconds = groups[0].segment_seconds
        self.stored: dict[Path, int] = {}  # segments of an earlier run kept only in the bucket
        self.duration = groups[0].probe.duration
        self.rungs = {
            planned.rung.name: RungOutput(
                name=planned.rung.name,
                group=index,
                served_playlist=area.rung_playlist(planned.rung.name),
                encoder_playlist=area.encoder_playlist(planned.rung.name),
            )
            for index, group in enumerate(groups)
            for planned in group.rungs
        }

    def load(
        self, *, published: Iterable[str] = (), stored: dict[Path, int] | None = None
    ) -> list[int | None]:
        """Read what earlier runs left (the served playlists, then ffmpeg's; `published`: the rungs
        viewers already have; `stored`: the sizes of segments kept in the bucket, not on this disk);
        return, per group, the segment its ffmpeg starts at, or None when the group is complete."""
        published, self.stored = set(published), dict(stored or {})
        for rung in self.rungs.values():
            rung.published = rung.name in published
            rung.folder.mkdir(parents=True, exist_ok=True)
            listed = playlists.parse_media_playlist(rung.served_playlist, missing_ok=True)
            for name, seconds in listed:
                if not (rung.folder / name).is_file() and rung.folder / name not in self.stored:
                    break
                rung.segments[name] = seconds
        self.refresh()
        starts: list[int | None] = []
        for index in range(len(self.groups)):
            members = [rung for rung in self.rungs.values() if rung.group == index]
            done = all(rung.complete for rung in members)
            starts.append(None if done else min(rung.contiguous() for rung in members))
        return starts

    def refresh(self) -> list[RungOutput]:
        """Take in the segments ffmpeg has finished and rewrite the served playlists that grew;
        return those rungs."""
        grew = []
        for rung in self.rungs.values():
            try:
                text = rung.encoder_playlist.read_text()
            except FileNotFoundError:
                continue
            before = (len(rung.segments), rung.complete)
            for name, seconds in playlists.parse_media_text(text):
                rung.segments.setdefault(name, seconds)
            rung.complete = rung.complete or layout.playlist_is_complete(text)
            if (len(rung.segments), rung.complete) != before:
                grew.append(rung)
                self.write_served(rung)
        return grew

    def write_served(self, rung: RungOutput) -> None:
        playlists.write_media_playlist(
            rung.served_playlist,
            sorted(rung.segments.items()),
            segment_seconds=self.segment_seconds,
            complete=rung.complete,
        )

    def stays_ahead(self, rung: RungOutput, *, speed: float, watched: float = 0.0) -> bool:
        """The no-stall rule for one rung of this film, at `speed`, for a viewer `watched` s in."""
        return rung_never_stalls(
            produced=rung.produced,
            duration=self.duration,
            speed=speed,
            segment_seconds=self.segment_seconds,
            finished=rung.complete,
            watched=watched,
        )

    def newly_publishable(self, speeds: list[float]) -> list[str]:
        """Rungs not yet published that the no-stall rule now allows (speeds per group)."""
        return [
            rung.name
            for rung in self.rungs.values()
            if not rung.published and self.stays_ahead(rung, speed=speeds[rung.group])
        ]

    def start_rungs_stay_ahead(self, *, speed: float, watched: float) -> bool:
        """Would every start rung, at `speed`, stay ahead of a viewer `watched` seconds in?"""
        return all(
            self.stays_ahead(rung, speed=speed, watched=watched)
            for rung in self.rungs.values()
            if rung.group == 0
        )

    def start_rungs(self) -> list[str]:
        return [rung.name for rung in self.rungs.values() if rung.group == 0]

    def published(self) -> list[str]:
        return [rung.name for rung in self.rungs.values() if rung.published]

    def progress(self, positions: Iterable[float]) -> float:
        """Percent of the slowest group (what stands between now and ready), from the media time
        each group has reached."""
        if self.duration <= 0:
            return 0.0
        return max(0.0, min(100.0, min(positions) / self.duration * 100))


def plan_fingerprint(plan: ladder.TranscodePlan, *, source_name: str) -> dict:
    """What must be the same for a run to continue another one's output."""
    return {
        "source": source_name,
        "rungs": [[planned.rung.name, planned.width, planned.height] for planned in plan.rungs],
        "segment_seconds": plan.segment_seconds,
        "fps": str(plan.fps),
        "encoder": [plan.encoder.preset, plan.encoder.crf, plan.encoder.x264_params],
        "timestamp_base": ladder.TIMESTAMP_BASE,
    }


def plan_version(area: layout.WorkArea, plan: ladder.TranscodePlan, *, source_name: str) -> str | None:
    """The version (bucket prefix; empty in local mode) of the output an earlier run of the same
    plan left in the area, or None when there is none to continue."""
    try:
        stored = json.loads(area.plan_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("plan") != plan_fingerprint(plan, source_name=source_name):
        return None
    return str(stored.get("version", ""))


def plan_write(area: layout.WorkArea, plan: ladder.TranscodePlan, *, source_name: str, version: str) -> None:
    fingerprint = plan_fingerprint(plan, source_name=source_name)
    area.plan_file.write_text(json.dumps({"plan": fingerprint, "version": version}))
