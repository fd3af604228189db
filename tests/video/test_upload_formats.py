"""Uploads whose format could make ffmpeg read other files (security review, finding 1): only the
accepted audio-video containers pass, ffprobe and ffmpeg use no other demuxer and only the local
file protocol, and a source is stored under the extension of its detected container."""

from pathlib import Path

import django_rq
import pytest
from django.conf import settings

from tests.support import ffmpeg
from tests.video.test_admin_video import form_errors, stored_sources, upload
from video.models import Video
from video.pipeline.ffmpeg import encode, ladder, probe
from video.pipeline.ffmpeg.process import ProbeError, TranscodeError

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_clip(tmp_path):
    """A private picture on the server that no upload may make ffmpeg read."""
    secret = tmp_path / "private" / "secret.ts"
    secret.parent.mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2", "-c:v", "libx264", str(secret))
    return secret


def hostile_files(secret: Path, tmp_path: Path) -> dict[str, tuple[str, bytes]]:
    still = tmp_path / "still.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180", "-frames:v", "1", str(still))
    return {
        "hls-playlist": (
            "x.mp4",
            f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{secret}\n#EXT-X-ENDLIST\n".encode(),
        ),
        "relative-hls": (
            "y.mp4",
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n../private/secret.ts\n#EXT-X-ENDLIST\n",
        ),
        "ffconcat": ("list.mp4", f"ffconcat version 1.0\nfile '{secret}'\n".encode()),
        "text": ("notes.txt", b"Text that ffmpeg's tty reader would turn into a video.\n" * 40),
        "lavfi-graph": ("graph.mp4", b"testsrc2=size=320x180:duration=2"),
        "sdp": (
            "session.mp4",
            b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 5004 RTP/AVP 96\n",
        ),
        "image": ("poster.mp4", still.read_bytes()),
    }


@pytest.mark.parametrize(
    "case", ["hls-playlist", "relative-hls", "ffconcat", "text", "lavfi-graph", "sdp", "image"]
)
def test_files_that_are_not_accepted_containers_are_refused_with_a_sentence(
    admin_client, secret_clip, tmp_path, django_capture_on_commit_callbacks, case
):
    name, content = hostile_files(secret_clip, tmp_path)[case]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, content, name=name)
    assert response.status_code == 200
    message = form_errors(response)
    assert "could not be read as a video" in message, message
    assert not Video.objects.exists()
    assert stored_sources() == []
    assert django_rq.get_queue("transcode").count == 0


def test_ffprobe_refuses_a_playlist_before_opening_what_it_lists(secret_clip, tmp_path):
    playlist = tmp_path / "x.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{secret_clip}\n#EXT-X-ENDLIST\n")
    with pytest.raises(ProbeError) as raised:
        probe.probe(playlist)
    assert "not on whitelist" in raised.value.detail


def test_ffmpeg_reads_the_source_only_with_the_detected_demuxer(secret_clip, tmp_path, landscape_clip):
    """Even if a playlist got past the check, the transcode forces the container ffprobe saw."""
    playlist = tmp_path / "x.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{secret_clip}\n#EXT-X-ENDLIST\n")
    real = probe.probe(landscape_clip)
    assert real.container == "mov"
    plan = ladder.build_plan(
        source=playlist, output_dir=tmp_path / "out", probe_result=real, rung_names=["120p"]
    )
    command = ladder.build_transcode_command(plan)
    assert command[command.index("-i") - 2 : command.index("-i") + 2] == [
        "-f",
        "mov",
        "-i",
        f"file:{playlist}",
    ]
    assert command[command.index("-protocol_whitelist") + 1] == "file"
    with pytest.raises(TranscodeError):
        encode.transcode(plan, log_path=tmp_path / "log")
    assert not list((tmp_path / "out" / "120p").glob("*.ts"))


@pytest.mark.parametrize(
    ("uploaded_name", "make", "extension"),
    [
        ("film.html", "mp4", ".mp4"),
        ("film.mp4", "mkv", ".mkv"),
        ("film", "ts", ".ts"),
    ],
)
def test_a_source_is_stored_under_the_extension_of_its_detected_container(
    admin_client, tmp_path, django_capture_on_commit_callbacks, uploaded_name, make, extension
):
    clip = tmp_path / f"clip.{make}"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2", "-c:v", "libx264", str(clip))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, clip, name=uploaded_name)
    assert response.status_code == 302, form_errors(response)
    video = Video.objects.get()
    assert Path(video.source.name).suffix == extension
    assert video.original_filename == uploaded_name
    assert video.source_probe["container"] in ("mov", "matroska", "mpegts")
    assert [path.suffix for path in stored_sources()] == [extension]
    assert Path(settings.MEDIA_ROOT, video.source.name).is_file()
