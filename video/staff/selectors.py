"""Reads for the staff pages: the transcoding status of some videos, and what a playable video's
rungs are (resolution, bitrates, size, length) for the preview."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from video import layout
from video.catalogue.selectors import PlayableOutput, video_playable_output
from video.models import Video
from video.pipeline.ffmpeg.playlists import parse_media_text
from video.streaming import output

STREAM_INF = re.compile(r"#EXT-X-STREAM-INF:(?P<attributes>.*)")
ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


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
        """Bits per second of the segments stored."""
        return round(self.size_bytes * 8 / self.seconds) if self.seconds else 0


def video_rung_summaries(*, video: Video) -> list[RungSummary]:
    """The rungs of a playable video as its master playlist lists them, lowest first, with the
    size and length of the segments each rung's playlist lists so far (in either storage mode:
    video.streaming.output). Empty when the video is not playable or its master playlist is
    missing."""
    playable = video_playable_output(video_id=video.pk)
    master = output.master_playlist(video_id=video.pk, output=playable) if playable else None
    if master is None:
        return []
    summaries = []
    for line, uri in itertools.pairwise(master.splitlines()):
        match = STREAM_INF.match(line)
        rung = uri.strip().split("/")[0]
        if match is None or not layout.is_rung_name(rung) or rung not in playable.rungs:
            continue
        attributes = {key: value.strip('"') for key, value in ATTRIBUTE.findall(match["attributes"])}
        size, seconds = _segments_listed(playable, video.pk, rung)
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


def _segments_listed(playable: PlayableOutput, video_id: int, rung: str) -> tuple[int, float]:
    """Total bytes and seconds of the segments the rung's playlist lists."""
    text = output.rung_playlist(video_id=video_id, output=playable, rung=rung)
    if text is None:
        return 0, 0.0
    listed = parse_media_text(text)
    sizes = output.rung_segment_sizes(video_id=video_id, output=playable, rung=rung)
    return sum(sizes.get(name, 0) for name, _ in listed), sum(seconds for _, seconds in listed)
