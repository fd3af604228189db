"""Start rungs first: the higher rungs' ffmpeg is held (SIGSTOP) until the start rungs are
published and whenever they need the CPU to stay ahead of their viewers (real ffmpeg, real
database)."""

import time

import pytest

from tests.support import make_clip, spies, wait_until
from video import layout
from video.models import Video
from video.pipeline import progressive, transcode
from video.pipeline.ffmpeg import encode, ladder, probe

pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize(
    ("produced", "watched", "speed", "expected"),
    [
        (20, 0, 2.0, True),  # a viewer who starts now is 20 s behind
        (20, 10, 2.0, True),  # one who started 10 s ago is still 10 s behind: enough at 2x
        (20, 16, 2.0, False),  # 4 s behind: the next segment (2 s at 1.6x) + a reload do not fit
        (150, 0, 1.0, True),  # at real time (1.25 margin) the end of a 600 s film is in time ...
        (150, 40, 1.0, False),  # ... for a viewer starting now, not for one 40 s in
        (20, 25, 8.0, False),  # a viewer past what exists has already caught up
    ],
)
def test_the_start_rungs_stay_ahead_of_a_viewer_who_started_earlier_or_not(
    produced, watched, speed, expected
):
    verdict = progressive.rung_never_stalls(
        produced=produced, duration=600, speed=speed, segment_seconds=2, finished=False, watched=watched
    )
    assert verdict is expected


def one_rung_command(tmp_path, *, rung: str, width: int, height: int, seconds: float, **encoder) -> list[str]:
    """The ladder's ffmpeg command for one rung of a fresh clip, into tmp_path/out (2 s segments)."""
    clip = make_clip(tmp_path / "clip.mp4", width=width, height=height, seconds=seconds)
    plan = ladder.build_plan(
        source=clip,
        output_dir=tmp_path / "out",
        probe_result=probe.probe(clip),
        rung_names=[rung],
        segment_seconds=2,
        encoder=ladder.EncoderSettings(**encoder),
    )
    encode.prepare_folders(plan)
    return ladder.build_transcode_command(plan)


def test_a_held_encode_takes_no_step_until_it_is_let_go(tmp_path):
    command = one_rung_command(tmp_path, rung="360p", width=640, height=360, seconds=8, preset="medium")
    running = encode.RunningEncode(command, log_path=tmp_path / "log")
    try:
        running.hold(True)
        time.sleep(1.5)
        assert (running.running, running.position, running.held) == (True, 0.0, True)
        assert not list((tmp_path / "out" / "360p").glob("*.ts"))
        running.hold(False)
        running.process.wait(timeout=120)
    finally:
        running.close()
    assert running.failure() is None
    assert len(list((tmp_path / "out" / "360p").glob("*.ts"))) == 4


def test_the_recent_speed_is_the_pace_of_the_last_seconds_and_the_speed_counts_from_the_start(tmp_path):
    command = one_rung_command(tmp_path, rung="120p", width=320, height=180, seconds=30)
    command.insert(command.index("-i"), "-re")  # at the source's own pace
    running = encode.RunningEncode(command, log_path=tmp_path / "log")
    try:
        assert wait_until(lambda: running.position >= 2, timeout=60)
        running.hold(True)
        held_at = running.position
        time.sleep(encode.RECENT_SECONDS + 1)
        # Nothing in the last seconds; on average, what it did before the hold.
        assert running.recent_speed == 0.0 and running.speed > 0
        running.hold(False)
        assert wait_until(lambda: running.position >= held_at + encode.RECENT_SECONDS + 1, timeout=60)
        assert running.recent_speed > 0
    finally:
        running.close()


def test_the_higher_rungs_are_held_until_the_start_rungs_are_published(
    make_video, tmp_path, monkeypatch, settings
):
    settings.VIDEO_RUNGS = ["120p", "360p", "720p"]
    video = make_video(make_clip(tmp_path / "film.mp4", width=1280, height=720, seconds=16), job_id="growing")
    at_publish, holds = [], []
    original_hold = encode.RunningEncode.hold

    def observe():
        higher = layout.video_dir(video.pk) / "720p"
        rungs = Video.objects.get(pk=video.pk).rungs
        at_publish.append((rungs, sorted(path.name for path in higher.iterdir())))

    def hold_spy(self, held):
        holds.append(held)
        return original_hold(self, held)

    spies.after_first_publish(monkeypatch, observe)
    monkeypatch.setattr(encode.RunningEncode, "hold", hold_spy)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == Video.Status.READY

    # Published with the start rungs only, while the 720p encoder had not written a byte (not even
    # the first segment's temporary file).
    assert at_publish == [(["120p", "360p"], [])]
    assert holds[0] is True and holds[-1] is False  # held from the start; let go by the end
    video.refresh_from_db()
    assert (video.status, video.rungs) == ("ready", ["120p", "360p", "720p"])
    assert len(list((layout.video_dir(video.pk) / "720p").glob("*.ts"))) == 8
