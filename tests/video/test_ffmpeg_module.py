"""video.pipeline.ffmpeg with real ffmpeg and no database."""

from fractions import Fraction

import pytest

from tests.support import ffmpeg
from tests.video.conftest import keyframe_times, stream_info
from video.pipeline.ffmpeg import encode, ladder, probe
from video.pipeline.ffmpeg.process import ProbeError, TranscodeError

DEFAULT_LADDER = ["120p", "360p", "480p", "720p", "1080p"]


def run_plan(clip, tmp_path, rungs=DEFAULT_LADDER, segment_seconds=2):
    result = probe.probe(clip)
    plan = ladder.build_plan(
        source=clip,
        output_dir=tmp_path / "out",
        probe_result=result,
        rung_names=rungs,
        segment_seconds=segment_seconds,
        encoder=ladder.EncoderSettings(preset="veryfast"),
    )
    progress = []
    rungs_made = encode.transcode(plan, log_path=tmp_path / "ffmpeg.log", on_progress=progress.append)
    return plan, rungs_made, progress


def test_probe_reads_size_duration_rate_and_audio(landscape_clip, silent_clip):
    result = probe.probe(landscape_clip)
    assert (result.width, result.height) == (640, 360)
    assert result.duration == pytest.approx(5, abs=0.1)
    assert result.fps == 25
    assert result.has_audio is True
    assert probe.probe(silent_clip).has_audio is False


def test_probe_measures_rotated_source_after_rotation(rotated_clip):
    result = probe.probe(rotated_clip)
    assert result.rotation in (90, 270)
    assert (result.width, result.height) == (360, 640)


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("audio_only_file", "only sound"),
        ("truncated_mp4", "could not be read as a video"),
    ],
)
def test_probe_refuses_unusable_files_with_a_sentence(request, fixture, message):
    with pytest.raises(ProbeError, match=message):
        probe.probe(request.getfixturevalue(fixture))


def test_probe_refuses_text_and_empty_files(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("This is not a film.\n")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ProbeError, match="could not be read as a video"):
        probe.probe(text)
    with pytest.raises(ProbeError, match="empty"):
        probe.probe(empty)


def test_truncated_file_with_intact_index_is_caught_by_decoding_its_end(truncated_faststart_mp4):
    result = probe.probe(truncated_faststart_mp4)  # the index survived ...
    with pytest.raises(ProbeError, match="truncated or damaged"):
        probe.check_decodable_end(truncated_faststart_mp4, result.duration)  # ... the data did not


def test_plan_never_upscales_and_keeps_the_aspect_ratio():
    landscape = probe.ProbeResult(10, 1920, 1080, Fraction(30), True)
    assert [(p.rung.name, p.width, p.height) for p in ladder.plan_ladder(landscape, DEFAULT_LADDER)] == [
        ("120p", 214, 120),
        ("360p", 640, 360),
        ("480p", 854, 480),
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
    ]
    portrait = probe.ProbeResult(10, 720, 1280, Fraction(30), True)
    assert [(p.rung.name, p.width, p.height) for p in ladder.plan_ladder(portrait, DEFAULT_LADDER)] == [
        ("120p", 120, 214),
        ("360p", 360, 640),
        ("480p", 480, 854),
        ("720p", 720, 1280),
    ]


def test_plan_gives_a_tiny_source_the_lowest_rung_at_its_own_even_size():
    tiny = probe.ProbeResult(10, 97, 55, Fraction(30), False, "h264")
    assert [(p.rung.name, p.width, p.height) for p in ladder.plan_ladder(tiny, DEFAULT_LADDER)] == [
        ("120p", 96, 54)
    ]


def test_frame_rate_is_capped_and_long_films_get_longer_segments():
    fast = probe.ProbeResult(10, 640, 360, Fraction(120), False, "h264")
    assert ladder.output_fps(fast) == 60
    assert ladder.segment_seconds_for(600, 4) == 4
    assert ladder.segment_seconds_for(3 * 3600, 4) == 11  # 982 segments: names stay 000-999


def test_command_decodes_once_and_fixes_keyframes():
    result = probe.ProbeResult(10, 1920, 1080, Fraction(30), True)
    plan = ladder.build_plan(
        source="in.mp4", output_dir="/out", probe_result=result, rung_names=DEFAULT_LADDER, segment_seconds=4
    )
    command = ladder.build_transcode_command(plan)
    assert command.count("-i") == 1
    assert "split=5" in command[command.index("-filter_complex") + 1]
    assert command.count("libx264") == 5
    assert command.count("-sc_threshold") == 5 and command[command.index("-sc_threshold") + 1] == "0"
    assert command[command.index("-g") + 1] == "120"  # 30 fps x 4 s
    assert "/out/480p/%03d.ts" in command and "/out/480p/.encoder.m3u8" in command


def test_transcode_writes_every_rung_the_source_allows(landscape_clip, tmp_path):
    _plan, rungs_made, progress = run_plan(landscape_clip, tmp_path)
    out = tmp_path / "out"
    assert [r.name for r in rungs_made] == ["120p", "360p"]
    assert sorted(p.name for p in out.iterdir()) == ["120p", "360p", "master.m3u8"]
    for rung in rungs_made:
        names = sorted(p.name for p in (out / rung.name).iterdir())
        assert names == ["000.ts", "001.ts", "002.ts", "index.m3u8"]
        assert [seconds for _, seconds in rung.segments] == pytest.approx([2, 2, 1], abs=0.05)
        info = stream_info(out / rung.name / "000.ts")
        assert (info["video"]["width"], info["video"]["height"]) == (rung.width, rung.height)
        assert info["video"]["codec_name"] == "h264" and info["audio"]["codec_name"] == "aac"
    assert progress and progress[-1] == pytest.approx(100, abs=1)
    assert progress == sorted(progress)


def test_keyframes_are_aligned_across_rungs_and_on_segment_boundaries(landscape_clip, tmp_path):
    run_plan(landscape_clip, tmp_path)
    low = keyframe_times(tmp_path / "out" / "120p" / "index.m3u8")
    high = keyframe_times(tmp_path / "out" / "360p" / "index.m3u8")
    assert low == high
    start = low[0]
    # A fixed GOP with scene-cut keyframes off: one keyframe every 2 s, exactly where segments start.
    assert [round(t - start, 2) for t in low] == [0.0, 2.0, 4.0]


def test_master_playlist_lists_each_rung_with_bandwidth_resolution_and_codecs(landscape_clip, tmp_path):
    run_plan(landscape_clip, tmp_path)
    lines = (tmp_path / "out" / "master.m3u8").read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    entries = [
        (lines[i], lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF")
    ]
    assert [uri for _, uri in entries] == ["120p/index.m3u8", "360p/index.m3u8"]
    for info, _ in entries:
        assert "BANDWIDTH=" in info and 'CODECS="avc1.64' in info and 'mp4a.40.2"' in info
    assert "RESOLUTION=214x120" in entries[0][0] and "RESOLUTION=640x360" in entries[1][0]


def test_source_without_audio_gives_video_only_rungs(silent_clip, tmp_path):
    _, rungs_made, _ = run_plan(silent_clip, tmp_path)
    assert [r.name for r in rungs_made] == ["120p"]
    assert set(stream_info(tmp_path / "out" / "120p" / "000.ts")) == {"video"}
    assert 'CODECS="avc1.' in (tmp_path / "out" / "master.m3u8").read_text()
    assert "mp4a" not in (tmp_path / "out" / "master.m3u8").read_text()


def test_variable_frame_rate_becomes_constant(vfr_clip, tmp_path):
    run_plan(vfr_clip, tmp_path, rungs=["120p"])
    info = stream_info(tmp_path / "out" / "120p" / "000.ts")["video"]
    assert info["r_frame_rate"] == info["avg_frame_rate"]


def test_invalid_input_fails_as_permanent_with_ffmpegs_words(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01garbage" * 1000)
    result = probe.ProbeResult(5, 320, 180, Fraction(25), False)
    plan = ladder.build_plan(
        source=garbage, output_dir=tmp_path / "out", probe_result=result, rung_names=["120p"]
    )
    with pytest.raises(TranscodeError) as raised:
        encode.transcode(plan, log_path=tmp_path / "log")
    assert raised.value.permanent is True
    assert "Invalid data found" in raised.value.for_staff()


def test_ffmpeg_runs_at_a_lower_cpu_priority_than_the_worker(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "niceness.sh"
    script.write_text("#!/bin/sh\nawk '{print $19}' /proc/self/stat > \"$1\"\n")
    script.chmod(0o755)
    out = tmp_path / "nice.txt"
    subprocess.run(
        [sys.executable, "-c", "import sys, subprocess; from video.pipeline.ffmpeg import encode; "
         "subprocess.run(sys.argv[1:], preexec_fn=encode._die_with_parent, check=True)",
         str(script), str(out)],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert int(out.read_text()) == os.nice(0) + encode.FFMPEG_NICENESS


@pytest.mark.parametrize(
    ("keyframe_every", "label"),
    [(25, "a keyframe each second: picked among keyframes"), (100_000, "one keyframe: decoded frames")],
)
def test_a_thumbnail_is_a_jpeg_of_at_most_720_lines_whatever_the_keyframes(tmp_path, keyframe_every, label):
    clip = tmp_path / "clip.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=12",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", str(keyframe_every), "-sc_threshold", "0",
        "-pix_fmt", "yuv420p", str(clip),
    )  # fmt: skip
    assert len(keyframe_times(clip)) == (12 if keyframe_every == 25 else 1), label
    destination = tmp_path / "thumbnail.jpg"
    destination.write_bytes(b"left by a killed run")
    encode.extract_thumbnail(clip, destination, duration=12.0)
    picture = stream_info(destination)["video"]
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("mjpeg", 1280, 720), label
