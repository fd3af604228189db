"""Reads for the staff pages: the transcoding status of some videos, and what a ready video's
rungs are on disk (resolution, bitrates, size) for the preview."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from video import layout
from video.models import Video

STREAM_INF = re.compile(r"#EXT-X-STREAM-INF:(?P<attributes>.*)")
ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
EXTINF = re.compile(r"#EXTINF:(?P<seconds>[0-9.]+)")


def video_status_list(*, video_ids: list[int]) -> list[dict]:
    """Status, progress and failure reason of these videos (unknown ids are left out)."""
    rows = Video.objects.filter(pk__in=video_ids).values(
        "pk", "status", "progress", "error", "rungs", "playable"
    )
    return [
        {
            "id": row["pk"],
            "status": row["status"],
            "status_label": Video.Status(row["status"]).label,
            "progress": row["progress"],
            "error": row["error"] if row["status"] == Video.Status.FAILED else "",
            "playable": row["playable"] and bool(row["rungs"]),
        }
        for row in rows
    ]


@dataclass(frozen=True)
class RungSummary:
    name: str
    resolution: str
    bandwidth: int  # peak bits per second, as the master playlist announces it
    average_bandwidth: int
    size_bytes: int
    seconds: float

    @property
    def measured_bitrate(self) -> int:
        """Bits per second of the segments on disk."""
        return round(self.size_bytes * 8 / self.seconds) if self.seconds else 0


def video_rung_summaries(*, video: Video) -> list[RungSummary]:
    """The rungs of a published video as its master playlist lists them, lowest first."""
    folder = layout.video_dir(video.pk)
    try:
        master = (folder / layout.MASTER_PLAYLIST).read_text().splitlines()
    except OSError:
        return []
    summaries = []
    for line, uri in itertools.pairwise(master):
        match = STREAM_INF.match(line)
        rung = uri.strip().split("/")[0]
        if match is None or not layout.is_rung_name(rung):
            continue
        attributes = {key: value.strip('"') for key, value in ATTRIBUTE.findall(match["attributes"])}
        size, seconds = _segments_on_disk(folder / rung)
        summaries.append(
            RungSummary(
                name=rung,
                resolution=attributes.get("RESOLUTION", ""),
                bandwidth=int(attributes.get("BANDWIDTH", 0)),
                average_bandwidth=int(attributes.get("AVERAGE-BANDWIDTH", 0)),
                size_bytes=size,
                seconds=seconds,
            )
        )
    return summaries


def _segments_on_disk(rung_folder) -> tuple[int, float]:
    """Total bytes and seconds of the segments the rung's playlist lists."""
    try:
        lines = (rung_folder / layout.RUNG_PLAYLIST).read_text().splitlines()
    except OSError:
        return 0, 0.0
    size, seconds = 0, 0.0
    for line in lines:
        name = line.strip()
        if match := EXTINF.match(name):
            seconds += float(match["seconds"])
        elif layout.is_segment_name(name):
            size += (rung_folder / name).stat().st_size
    return size, seconds
