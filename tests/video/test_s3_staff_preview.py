"""The staff preview with MEDIA_STORAGE=s3: the change page's player reads the playlists of the
version in the bucket (a real SeaweedFS), its rung playlists list presigned URLs of the store that
download, and the table of rungs shows sizes from one bucket listing per rung."""

import re

import pytest
import requests
from django.template.defaultfilters import filesizeformat
from django.test import Client

from tests.factories import UserFactory, VideoFactory
from video import layout, media_store
from video.models import Video
from video.pipeline.ffmpeg.playlists import parse_media_text
from video.staff.selectors import video_rung_summaries

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def preview(video: Video, rung: str = "") -> str:
    base = f"/admin/video/video/{video.pk}/preview"
    return f"{base}/{rung}/index.m3u8" if rung else f"{base}/master.m3u8"


def uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def test_the_preview_master_playlist_comes_from_the_bucket(admin_client, s3_ready_video):
    response = admin_client.get(preview(s3_ready_video))

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    stored = media_store.object_read(
        layout.hls_key(s3_ready_video.pk, s3_ready_video.hls_version, "master.m3u8")
    )
    assert response.content == stored
    assert uris(response.content.decode()) == ["120p/index.m3u8", "360p/index.m3u8"]


def test_the_preview_rung_playlist_lists_presigned_store_urls_that_download(
    admin_client, s3_ready_video, s3_media
):
    response = admin_client.get(preview(s3_ready_video, "360p"))

    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    segments = uris(response.content.decode())
    assert len(segments) == 3
    prefix = (
        f"{s3_media.endpoint}/{s3_media.bucket}/hls/{s3_ready_video.pk}/{s3_ready_video.hls_version}/360p/"
    )
    assert all(url.startswith(prefix) and "X-Amz-Signature=" in url for url in segments), segments
    for url in segments:
        segment = requests.get(url, timeout=10)
        assert segment.status_code == 200 and segment.content[:1] == b"G"  # an MPEG-TS sync byte
    assert requests.get(segments[0].split("?")[0], timeout=10).status_code == 403  # the bucket is private


def test_the_preview_is_404_for_an_unplayable_video_or_a_rung_it_does_not_have(admin_client, s3_ready_video):
    pending = VideoFactory(status=Video.Status.PROCESSING, rungs=["360p"], playable=False)

    assert admin_client.get(preview(pending)).status_code == 404
    assert admin_client.get(preview(pending, "360p")).status_code == 404
    assert admin_client.get(preview(s3_ready_video, "720p")).status_code == 404
    assert admin_client.get(preview(s3_ready_video, "big")).status_code == 404
    unknown = f"/admin/video/video/{s3_ready_video.pk + 1000}/preview/master.m3u8"
    assert admin_client.get(unknown).status_code == 404


def test_the_preview_is_for_staff_sessions_only(s3_ready_video, password):
    viewer = Client()
    viewer.force_login(UserFactory(password=password))

    for client in (Client(), viewer):
        for url in (preview(s3_ready_video), preview(s3_ready_video, "360p")):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_change_page_shows_each_rungs_size_from_one_listing_and_its_bitrates(
    admin_client, s3_ready_video, s3_media
):
    calls = []
    events = media_store.client().meta.events
    record = lambda model, **kwargs: calls.append(model.name)  # noqa: E731
    events.register("before-call.s3", record)
    try:
        page = admin_client.get(f"/admin/video/video/{s3_ready_video.pk}/change/").content.decode()
    finally:
        events.unregister("before-call.s3", record)

    assert f'data-master="/admin/video/video/{s3_ready_video.pk}/preview/master.m3u8"' in page
    rows = dict(re.findall(r'<tr data-rung="(\d+p)">(.*?)</tr>', page, re.S))
    assert list(rows) == ["120p", "360p"]
    assert "HeadObject" not in calls and calls.count("ListObjectsV2") == 2, calls
    for rung, row in rows.items():
        prefix = layout.hls_key(s3_ready_video.pk, s3_ready_video.hls_version, rung, "")
        listed = s3_media.client().list_objects_v2(Bucket=s3_media.bucket, Prefix=prefix)["Contents"]
        stored = sum(item["Size"] for item in listed if item["Key"].endswith(".ts"))
        assert stored > 0
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        assert cells[5] == str(filesizeformat(stored)), (rung, cells)
        assert all(re.fullmatch(r"[1-9]\d* kbit/s", cell) for cell in cells[2:5]), (rung, cells)
        assert re.fullmatch(r"5\.\d s", cells[6]), (rung, cells)

    summaries = {summary.name: summary for summary in video_rung_summaries(video=s3_ready_video)}
    assert summaries["360p"].size_bytes > summaries["120p"].size_bytes > 0
    assert 0 < summaries["360p"].measured_bitrate <= summaries["360p"].bandwidth


def test_the_preview_of_a_film_still_being_encoded_follows_its_growing_playlist(
    admin_client, s3_ready_video, s3_media
):
    key = layout.hls_key(s3_ready_video.pk, s3_ready_video.hls_version, "360p", "index.m3u8")
    whole = media_store.object_read(key).decode()
    segments = parse_media_text(whole)
    # What the job has published part way: the first segment, no end.
    growing = whole[: whole.index(segments[0][0]) + len(segments[0][0])] + "\n"
    s3_media.client().put_object(Bucket=s3_media.bucket, Key=key, Body=growing.encode())
    Video.objects.filter(pk=s3_ready_video.pk).update(status=Video.Status.PROCESSING)

    first = admin_client.get(preview(s3_ready_video, "360p")).content.decode()
    assert len(uris(first)) == 1 and "#EXT-X-ENDLIST" not in first
    assert video_rung_summaries(video=s3_ready_video)[1].seconds == pytest.approx(segments[0][1])

    s3_media.client().put_object(Bucket=s3_media.bucket, Key=key, Body=whole.encode())
    later = admin_client.get(preview(s3_ready_video, "360p")).content.decode()
    assert len(uris(later)) == len(segments) and "#EXT-X-ENDLIST" in later
    assert requests.get(uris(later)[-1], timeout=10).status_code == 200
