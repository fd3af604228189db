"""Watching while it encodes: the no-stall rule, what viewers see at the moment a rung is published,
and a new version of a ready film made beside the old one (real ffmpeg, real database).

The checks that run "while the job runs" are made from inside the job, at the exact moment it
publishes (a spy around the publishing step), through the real API views.
"""

import subprocess
from pathlib import Path

import pytest

from tests.support import make_clip
from tests.support.spies import after_first_publish
from video import layout
from video.models import Video
from video.pipeline import progressive, services, transcode
from video.pipeline.ffmpeg import encode, playlists

pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize(
    ("produced", "duration", "speed", "expected"),
    [
        (4, 600, 4.0, True),  # two 2-second segments, far ahead of real time
        (2, 600, 4.0, False),  # one segment is never enough
        (4, 600, 1.0, False),  # real time: the margin says the end would stall
        (400, 600, 1.0, True),  # ... but not once most of the film exists
        (100, 600, 0.5, False),  # half real time needs more than half the film first
        (400, 600, 0.5, True),
    ],
)
def test_a_rung_is_published_only_when_a_viewer_starting_now_never_catches_up(
    produced, duration, speed, expected
):
    verdict = progressive.rung_never_stalls(
        produced=produced, duration=duration, speed=speed, segment_seconds=2, finished=False
    )
    assert verdict is expected


def test_a_finished_rung_is_always_publishable():
    assert progressive.rung_never_stalls(
        produced=10, duration=10, speed=0.1, segment_seconds=4, finished=True
    )


def served(video_id: int, rung: str) -> str:
    return (layout.video_dir(video_id) / rung / layout.RUNG_PLAYLIST).read_text()


def listed_segments_are_complete(video_id: int, rung: str) -> list[str]:
    """Every segment the served playlist lists exists and decodes to about its listed duration."""
    folder = layout.video_dir(video_id) / rung
    names = []
    for name, seconds in playlists.parse_media_text(served(video_id, rung)):
        probed = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                str(folder / name),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert float(probed.stdout) == pytest.approx(seconds, abs=0.25), (rung, name)
        names.append(name)
    return names


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def make_film(make_video, path: Path, **size) -> Video:
    clip = make_clip(path, seconds=16, **size)
    return make_video(clip, job_id="growing")


def test_a_film_is_playable_while_it_encodes_start_rungs_first_with_growing_playlists(
    make_video, tmp_path, bearer_client, monkeypatch, settings
):
    settings.VIDEO_RUNGS = ["120p", "360p", "720p"]
    settings.VIDEO_X264_PRESET = "medium"  # slower, so the job is still running when it publishes
    video = make_film(make_video, tmp_path / "film.mp4", width=1280, height=720)
    moments = []
    original = transcode._Publisher.publish

    def spy(self, speeds):
        before = self.output.published()
        still_current = original(self, speeds)
        if self.output.published() != before:
            moments.append(observe(self.output.published()))
        return still_current

    def observe(published):
        row = Video.objects.get(pk=video.pk)
        listed = bearer_client.get("/api/video/").json()
        detail = bearer_client.get(f"/api/video/{video.pk}/").json()
        answers = {rung: bearer_client.get(f"/api/video/{video.pk}/{rung}/index.m3u8") for rung in published}
        master = bearer_client.get(f"/api/video/{video.pk}/master.m3u8")
        return {
            "published": list(published),
            "row": (row.status, row.playable, row.rungs, bool(row.thumbnail)),
            "listed": [(item["id"], item["ready"], item["thumbnail_url"] is not None) for item in listed],
            "detail": (detail["ready"], detail["rungs"], sorted(detail["playlists"])),
            "playlists": {
                rung: (a.status_code, a["Cache-Control"], a.content.decode()) for rung, a in answers.items()
            },
            "complete": {rung: listed_segments_are_complete(video.pk, rung) for rung in published},
            "master": (master.status_code, master["Cache-Control"], body(master)),
            "unpublished": bearer_client.get(f"/api/video/{video.pk}/720p/index.m3u8").status_code
            if "720p" not in published
            else None,
        }

    monkeypatch.setattr(transcode._Publisher, "publish", spy)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == Video.Status.READY

    first = moments[0]
    # The start rungs are published together, before the film is complete, with at least two
    # finished segments each; a higher rung is not published before the start rungs.
    assert {"120p", "360p"} <= set(first["published"])
    assert first["row"] == ("processing", True, first["published"], True)
    assert first["listed"] == [(video.pk, False, True)]  # in the list, not ready, with its thumbnail
    assert first["detail"] == (False, first["published"], sorted(first["published"]))
    for rung in ("120p", "360p"):
        status, cache_control, text = first["playlists"][rung]
        assert status == 200 and cache_control == "private, no-cache"
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "#EXT-X-START:TIME-OFFSET=0" in text
        assert "#EXT-X-ENDLIST" not in text
        assert len(first["complete"][rung]) >= progressive.PLAYABLE_SEGMENTS
        assert "?exp=" in text and "&sig=" in text  # the growing playlist's segments are signed too
    status, cache_control, master = first["master"]
    assert status == 200 and cache_control == "private, no-cache"
    assert [line for line in master.splitlines() if line.endswith(".m3u8")] == [
        f"{rung}/index.m3u8" for rung in first["published"]
    ]
    if first["unpublished"] is not None:
        assert first["unpublished"] == 404

    video.refresh_from_db()
    assert (video.status, video.playable, video.rungs) == ("ready", True, ["120p", "360p", "720p"])
    for rung in video.rungs:
        text = served(video.pk, rung)
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        assert len(listed_segments_are_complete(video.pk, rung)) == 8  # 16 s in 2 s segments
    answer = bearer_client.get(f"/api/video/{video.pk}/360p/index.m3u8")
    assert answer["Cache-Control"] == f"private, max-age={settings.HLS_CACHE_MAX_AGE}"
    # What ffmpeg and the job kept for themselves is gone; only served names remain.
    names = {path.name for path in layout.video_dir(video.pk).rglob("*")}
    assert names == {"master.m3u8", "120p", "360p", "720p", "index.m3u8"} | {f"{n:03d}.ts" for n in range(8)}


def test_a_new_version_of_a_ready_film_is_made_beside_it_and_switched_in_when_complete(
    make_video, tmp_path, bearer_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_RUNGS = ["120p"]
    video = make_film(make_video, tmp_path / "film.mp4", width=640, height=360)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == Video.Status.READY
    old_master = body(bearer_client.get(f"/api/video/{video.pk}/master.m3u8"))

    settings.VIDEO_RUNGS = ["120p", "360p"]
    with django_capture_on_commit_callbacks(execute=True):
        job_id = services.video_enqueue_transcode(video=video)
    seen = {}
    original = layout.publish

    def spy(area):
        # The new version is complete in its work folder; viewers still get the old one.
        seen["listed"] = [(item["id"], item["ready"]) for item in bearer_client.get("/api/video/").json()]
        seen["master"] = body(bearer_client.get(f"/api/video/{video.pk}/master.m3u8"))
        seen["old_rung"] = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8").status_code
        seen["new_rung"] = bearer_client.get(f"/api/video/{video.pk}/360p/index.m3u8").status_code
        seen["work"] = sorted(path.name for path in area.folder.iterdir())
        return original(area)

    monkeypatch.setattr(layout, "publish", spy)
    with django_capture_on_commit_callbacks(execute=True):
        assert transcode.video_transcode(video_id=video.pk, job_id=job_id) == Video.Status.READY

    assert seen == {
        "listed": [(video.pk, False)],
        "master": old_master,
        "old_rung": 200,
        "new_rung": 404,
        "work": ["120p", "360p", "master.m3u8"],
    }
    video.refresh_from_db()
    assert (video.status, video.rungs) == ("ready", ["120p", "360p"])
    assert "360p/index.m3u8" in body(bearer_client.get(f"/api/video/{video.pk}/master.m3u8"))
    assert sorted(path.name for path in layout.hls_root().iterdir()) == [str(video.pk)]  # nothing left over


def test_a_new_film_is_made_by_two_processes_and_a_new_version_of_a_ready_one_by_one(
    make_video, tmp_path, bearer_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_RUNGS = ["120p", "720p"]
    video = make_film(make_video, tmp_path / "film.mp4", width=1280, height=720)
    processes = []
    original = encode.run_together

    def spy(commands, **kwargs):
        processes.append([[arg for arg in command if arg.endswith(".encoder.m3u8")] for command in commands])
        return original(commands, **kwargs)

    monkeypatch.setattr(encode, "run_together", spy)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == Video.Status.READY
    with django_capture_on_commit_callbacks(execute=True):
        job_id = services.video_enqueue_transcode(video=video)
    with django_capture_on_commit_callbacks(execute=True):
        assert transcode.video_transcode(video_id=video.pk, job_id=job_id) == Video.Status.READY

    rungs_per_process = [[[Path(out).parent.name for out in outputs] for outputs in run] for run in processes]
    assert rungs_per_process == [[["120p"], ["720p"]], [["120p", "720p"]]]
    video.refresh_from_db()
    assert (video.status, video.rungs) == ("ready", ["120p", "720p"])
    for rung in ("120p", "720p"):
        text = body(bearer_client.get(f"/api/video/{video.pk}/{rung}/index.m3u8"))
        assert "#EXT-X-ENDLIST" in text and text.count("#EXTINF") == 8  # 16 s in 2 s segments


def test_a_job_failing_for_good_mid_encode_removes_its_output_and_viewers_get_a_404(
    make_video, tmp_path, bearer_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_RUNGS = ["120p", "360p"]
    settings.VIDEO_X264_PRESET = "medium"
    video = make_film(make_video, tmp_path / "film.mp4", width=640, height=360)
    seen = {}

    def watch_then_break():
        seen["playlist"] = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8").status_code
        raise RuntimeError("the disk went away")

    after_first_publish(monkeypatch, watch_then_break)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        transcode.video_transcode(video_id=video.pk, job_id="growing", final_attempt=True)

    video.refresh_from_db()
    assert seen == {"playlist": 200}  # a viewer was watching ...
    assert (video.status, video.playable) == ("failed", False)
    assert "the disk went away" in video.error
    reload = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8")  # ... and reloads
    assert reload.status_code == 404 and reload.json()["detail"]
    assert bearer_client.get("/api/video/").json() == []
    assert not layout.video_dir(video.pk).exists()
    assert [path.name for path in layout.hls_root().iterdir()] == []


def test_staff_marking_a_film_failed_mid_encode_stops_the_job_and_leaves_nothing(
    make_video, tmp_path, bearer_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_RUNGS = ["120p", "360p"]
    settings.VIDEO_X264_PRESET = "medium"
    video = make_film(make_video, tmp_path / "film.mp4", width=640, height=360)
    marked = []

    def mark_failed():
        with django_capture_on_commit_callbacks(execute=True):
            marked.append(
                services.video_mark_failed(video_id=video.pk, reason="Staff said so.", detach_job=True)
            )

    after_first_publish(monkeypatch, mark_failed)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == transcode.SUPERSEDED

    video.refresh_from_db()
    assert marked == [True]
    assert (video.status, video.playable, video.job_id, video.error) == (
        "failed",
        False,
        "",
        "Staff said so.",
    )
    assert bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8").status_code == 404
    assert [path.name for path in layout.hls_root().iterdir()] == []
