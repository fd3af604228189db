"""Staff pages beyond the admin's forms (video/staff/): the live status JSON, "Transcode again" on
the change page, and the preview of a ready video with playlists signed for the staff session."""

import re
from urllib.parse import parse_qs

import django_rq
import pytest
from django.test import Client

from tests.factories import UserFactory, VideoFactory
from video import layout
from video.models import Video
from video.pipeline import transcode
from video.streaming import signing

pytestmark = pytest.mark.django_db

STATUS_URL = "/admin/video/video/status/"


@pytest.fixture
def ready_video(make_video, landscape_clip, settings):
    settings.VIDEO_RUNGS = ["120p", "360p"]
    video = make_video(landscape_clip, job_id="staff")
    assert transcode.video_transcode(video_id=video.pk, job_id="staff") == Video.Status.READY
    video.refresh_from_db()
    return video


def test_status_lists_status_progress_and_the_failure_reason_of_the_asked_videos(admin_client):
    processing = VideoFactory(status=Video.Status.PROCESSING, progress=42)
    failed = VideoFactory(status=Video.Status.FAILED, error="The source could not be decoded.\nffmpeg: …")
    VideoFactory(status=Video.Status.PENDING)  # not asked for

    response = admin_client.get(STATUS_URL, {"id": [processing.pk, failed.pk, "x", 999999]})

    assert response.status_code == 200
    videos = {video["id"]: video for video in response.json()["videos"]}
    assert set(videos) == {processing.pk, failed.pk}
    assert videos[processing.pk] == {
        "id": processing.pk,
        "status": "processing",
        "status_label": "Processing",
        "progress": 42,
        "error": "",
        "playable": False,
    }
    assert videos[failed.pk]["error"].startswith("The source could not be decoded.")


def test_status_is_for_staff_sessions_only(password):
    viewer = Client()
    viewer.force_login(UserFactory(password=password))

    assert Client().get(STATUS_URL).status_code == 302  # to the admin login
    assert viewer.get(STATUS_URL).status_code == 302


def test_transcode_again_queues_a_new_job_and_returns_to_the_change_page(
    admin_client, django_capture_on_commit_callbacks
):
    video = VideoFactory(status=Video.Status.FAILED, error="It failed.", job_id="old-job", progress=30)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/video/video/{video.pk}/transcode-again/")

    assert response.status_code == 302 and response["Location"] == f"/admin/video/video/{video.pk}/change/"
    video.refresh_from_db()
    assert (video.status, video.progress, video.error) == (Video.Status.PENDING, 0, "")
    assert video.job_id != "old-job"
    assert django_rq.get_queue("transcode").job_ids == [video.job_id]
    assert admin_client.get(f"/admin/video/video/{video.pk}/transcode-again/").status_code == 405


def test_the_change_page_has_transcode_again_and_live_status(admin_client):
    video = VideoFactory(status=Video.Status.PROCESSING)

    page = admin_client.get(f"/admin/video/video/{video.pk}/change/").content.decode()

    assert f'action="/admin/video/video/{video.pk}/transcode-again/"' in page
    assert f'data-status-url="{STATUS_URL}" data-video-ids="{video.pk}"' in page
    assert "staff/status.js" in page
    assert "vf-preview" not in page  # not playable yet


@pytest.mark.slow
def test_a_ready_video_shows_its_preview_with_rungs_sizes_bitrates_and_thumbnail(admin_client, ready_video):
    page = admin_client.get(f"/admin/video/video/{ready_video.pk}/change/").content.decode()

    assert f'data-master="/admin/video/video/{ready_video.pk}/preview/master.m3u8"' in page
    rows = re.findall(r'<tr data-rung="(\d+p)">(.*?)</tr>', page, re.S)
    assert [name for name, _ in rows] == ["120p", "360p"]
    assert "kbit/s" in rows[0][1] and re.search(r"\d+(\.\d+)?\s(KB|bytes|MB)", rows[0][1])
    assert ready_video.thumbnail and ready_video.thumbnail.url in page


@pytest.mark.slow
def test_the_preview_playlists_are_signed_for_the_staff_member_and_point_at_the_api(
    admin_client, staff_user, ready_video
):
    base = f"/admin/video/video/{ready_video.pk}/preview"
    master = admin_client.get(f"{base}/master.m3u8")
    assert master.status_code == 200 and "360p/index.m3u8" in master.content.decode()

    rung = admin_client.get(f"{base}/360p/index.m3u8")

    assert rung.status_code == 200 and rung["Content-Type"] == "application/vnd.apple.mpegurl"
    segments = [line for line in rung.content.decode().splitlines() if line and not line.startswith("#")]
    assert segments and all(line.startswith(f"/api/video/{ready_video.pk}/360p/") for line in segments)
    path, query = segments[0].split("?")
    assert parse_qs(query)["uid"] == [str(staff_user.pk)]
    request = signing.SignedRequest(
        video_id=ready_video.pk, rung="360p", segment=path.rsplit("/")[-1], query=query
    )
    assert signing.verify(signing.signing_key(), request)


@pytest.mark.slow
def test_the_preview_needs_a_staff_session_and_the_viewer_api_still_needs_a_viewer_token(
    admin_client, ready_video
):
    base = f"/admin/video/video/{ready_video.pk}/preview"
    assert Client().get(f"{base}/360p/index.m3u8").status_code == 302
    assert admin_client.get(f"{base}/720p/index.m3u8").status_code == 404  # not a rung of this video
    # The staff session opens no door of the viewer API.
    assert admin_client.get(f"/api/video/{ready_video.pk}/360p/index.m3u8").status_code == 401


def test_the_preview_of_a_video_that_is_not_ready_is_404(admin_client):
    video = VideoFactory(status=Video.Status.PROCESSING, rungs=["360p"])

    assert admin_client.get(f"/admin/video/video/{video.pk}/preview/master.m3u8").status_code == 404


@pytest.mark.slow
def test_the_preview_of_a_film_still_being_encoded_follows_its_growing_playlist(admin_client, ready_video):
    playlist = layout.video_dir(ready_video.pk) / "360p" / "index.m3u8"
    whole = playlist.read_text()
    first_segment = next(line for line in whole.splitlines() if line.endswith(".ts"))
    playlist.write_text(whole[: whole.index(first_segment) + len(first_segment)] + "\n")
    Video.objects.filter(pk=ready_video.pk).update(status=Video.Status.PROCESSING)
    url = f"/admin/video/video/{ready_video.pk}/preview/360p/index.m3u8"

    first = admin_client.get(url).content.decode()
    assert [line for line in first.splitlines() if ".ts?" in line] == [
        line for line in first.splitlines() if line.startswith(f"/api/video/{ready_video.pk}/360p/000.ts?")
    ]
    assert first.count(".ts?") == 1 and "#EXT-X-ENDLIST" not in first

    playlist.write_text(whole)
    assert admin_client.get(url).content.decode().count(".ts?") == whole.count(".ts")
