"""The video admin: ffprobe-checked uploads, enqueue after commit, list, filters and actions."""

from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import CategoryFactory, VideoFactory
from video.models import Video

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/video/video/add/"


def upload(admin_client, path_or_bytes, name="film.mp4", **extra):
    content = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    category = CategoryFactory(name="Drama")
    data = {
        "title": "Uploaded film",
        "description": "",
        "category": category.pk,
        "source": SimpleUploadedFile(name, content, content_type="video/mp4"),
        **extra,
    }
    return admin_client.post(ADD_URL, data)


def stored_sources() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "sources"
    return list(folder.iterdir()) if folder.exists() else []


def form_errors(response) -> str:
    return " ".join(str(error) for error in response.context["adminform"].form.errors.get("source", []))


@pytest.mark.parametrize(
    ("fixture", "content", "message"),
    [
        (None, b"Dear staff, this is a text file.\n" * 20, "could not be read as a video"),
        (None, b"", "empty"),
        ("truncated_mp4", None, "could not be read as a video"),
        ("truncated_faststart_mp4", None, "truncated or damaged"),
        ("audio_only_file", None, "only sound and no picture"),
    ],
    ids=["text", "empty", "truncated", "truncated-faststart", "audio-only"],
)
def test_admin_refuses_files_that_are_not_usable_videos_with_a_sentence(
    request, admin_client, django_capture_on_commit_callbacks, fixture, content, message
):
    payload = request.getfixturevalue(fixture) if fixture else content
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, payload)

    assert response.status_code == 200
    assert message in form_errors(response)
    assert not Video.objects.exists()
    assert stored_sources() == []  # nothing left on disk
    assert django_rq.get_queue("transcode").count == 0


def test_admin_refuses_a_file_over_the_size_limit(admin_client, settings, landscape_clip):
    settings.VIDEO_MAX_UPLOAD_MB = 0
    response = upload(admin_client, landscape_clip)
    assert response.status_code == 200
    assert form_errors(response) == "This file is too large; the largest upload allowed is 0 MB."
    assert not Video.objects.exists()
    assert stored_sources() == []


def test_oversized_upload_handler_drops_the_file_while_the_request_is_read(rf, settings):
    settings.VIDEO_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.mp4", b"\0" * (1024 * 1024 + 1))
    request = rf.post("/admin/video/video/add/", {"title": "x", "source": big})
    assert "source" not in request.FILES  # never stored, not even in a temporary file
    assert request.POST["title"] == "x"  # the rest of the form is read as usual
    assert request.oversized_uploads == {"source": "big.mp4"}


def test_oversized_replacement_source_is_refused_and_the_old_one_kept(
    admin_client, settings, make_video, landscape_clip
):
    video = make_video(landscape_clip)
    settings.VIDEO_MAX_UPLOAD_MB = 0
    response = admin_client.post(
        reverse("admin:video_video_change", args=[video.pk]),
        {
            "title": "Renamed",
            "description": "",
            "category": video.category_id,
            "source": SimpleUploadedFile("new.mp4", landscape_clip.read_bytes()),
        },
    )
    assert response.status_code == 200
    assert "the largest upload allowed is 0 MB" in form_errors(response)
    video.refresh_from_db()
    assert video.title == "A film" and Path(video.source.path).exists()


def test_admin_upload_saves_and_queues_one_job_after_commit(
    admin_client, landscape_clip, django_capture_on_commit_callbacks, run_worker
):
    queue = django_rq.get_queue("transcode")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(admin_client, landscape_clip, name="My Holiday.MP4")
    assert response.status_code == 302
    assert queue.count == 0  # nothing queued before the commit
    for callback in callbacks:
        callback()

    video = Video.objects.get()
    assert video.status == Video.Status.PENDING
    assert video.original_filename == "My Holiday.MP4"
    assert video.source.name.startswith("sources/") and video.source.name.endswith(".mp4")
    assert queue.job_ids == [video.job_id]

    with django_capture_on_commit_callbacks(execute=True):
        run_worker()
    video.refresh_from_db()
    assert video.status == Video.Status.READY


def test_editing_the_title_does_not_requeue_but_replacing_the_source_does(
    admin_client, landscape_clip, silent_clip, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, landscape_clip)
    video = Video.objects.get()
    first_job, first_source = video.job_id, Path(video.source.path)
    queue = django_rq.get_queue("transcode")
    queue.empty()
    change_url = reverse("admin:video_video_change", args=[video.pk])
    base = {"title": "Renamed", "description": "", "category": video.category_id}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(change_url, base)
    assert response.status_code == 302
    video.refresh_from_db()
    assert video.title == "Renamed" and video.job_id == first_job and queue.count == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url,
            {**base, "source": SimpleUploadedFile("new.mp4", silent_clip.read_bytes())},
        )
    assert response.status_code == 302
    video.refresh_from_db()
    assert video.job_id != first_job and queue.job_ids == [video.job_id]
    assert video.status == Video.Status.PENDING
    assert not first_source.exists()  # the replaced source is removed after the commit


def test_admin_list_shows_status_progress_duration_and_rungs_and_filters(admin_client):
    drama, comedy = CategoryFactory(name="Drama"), CategoryFactory(name="Comedy")
    VideoFactory(title="Ready one", category=drama, duration=125.4, rungs=["120p", "360p"])
    VideoFactory(title="Busy one", category=comedy, status=Video.Status.PROCESSING, progress=42)

    page = admin_client.get("/admin/video/video/").content.decode()
    assert "Ready one" in page and "2:05" in page and "120p, 360p" in page
    assert "42%" in page and "Processing" in page

    filtered = admin_client.get("/admin/video/video/", {"status__exact": "processing"}).content.decode()
    assert "Busy one" in filtered and "Ready one" not in filtered
    by_category = admin_client.get("/admin/video/video/", {"category__id__exact": drama.pk}).content.decode()
    assert "Ready one" in by_category and "Busy one" not in by_category


def test_change_page_shows_technical_fields_read_only(admin_client):
    video = VideoFactory(error="ffmpeg said no", rungs=["120p"], job_id="abc123")
    page = admin_client.get(reverse("admin:video_video_change", args=[video.pk])).content.decode()
    assert "ffmpeg said no" in page and "abc123" in page
    assert 'name="status"' not in page and 'name="rungs"' not in page and 'name="job_id"' not in page


def test_action_transcode_again_queues_one_job_per_video(admin_client, django_capture_on_commit_callbacks):
    videos = [VideoFactory(status=Video.Status.FAILED, error="boom"), VideoFactory()]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/video/video/",
            {"action": "transcode_again", "_selected_action": [v.pk for v in videos]},
        )
    assert response.status_code == 302
    rows = Video.objects.filter(pk__in=[v.pk for v in videos])
    assert {row.status for row in rows} == {Video.Status.PENDING}
    assert {row.error for row in rows} == {""}
    assert sorted(django_rq.get_queue("transcode").job_ids) == sorted(row.job_id for row in rows)


def test_action_mark_failed_records_who_and_detaches_the_job(admin_client, staff_user):
    video = VideoFactory(status=Video.Status.PROCESSING, job_id="running")
    response = admin_client.post(
        "/admin/video/video/", {"action": "mark_failed", "_selected_action": [video.pk]}
    )
    assert response.status_code == 302
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert staff_user.email in video.error
    assert video.job_id == ""  # a still-running transcode publishes nothing


def test_admin_delete_removes_source_and_hls_folder_after_commit(
    admin_client, make_video, landscape_clip, django_capture_on_commit_callbacks
):
    video = make_video(landscape_clip)
    hls = Path(settings.MEDIA_ROOT) / "hls" / str(video.pk)
    (hls / "120p").mkdir(parents=True)
    (hls / "120p" / "index.m3u8").write_text("#EXTM3U\n")
    source = Path(video.source.path)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(reverse("admin:video_video_delete", args=[video.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert source.exists() and hls.exists()  # nothing removed before the commit
    for callback in callbacks:
        callback()
    assert not source.exists() and not hls.exists()
    assert not Video.objects.exists()


def test_staff_see_whether_a_film_still_encoding_is_playable_and_its_progress(admin_client):
    growing = VideoFactory(
        title="Growing", status=Video.Status.PROCESSING, playable=True, progress=37, rungs=["120p"]
    )
    VideoFactory(title="Waiting", status=Video.Status.PENDING, playable=False)

    page = admin_client.get("/admin/video/video/").content.decode()
    assert "<th" in page and "Playable" in page and "37%" in page
    playable_only = admin_client.get("/admin/video/video/", {"playable__exact": "1"}).content.decode()
    assert "Growing" in playable_only and "Waiting" not in playable_only
    change = admin_client.get(reverse("admin:video_video_change", args=[growing.pk])).content.decode()
    assert "Playable" in change and "37" in change and 'name="playable"' not in change  # read-only
