"""Playlists and segments: authentication, content types, strict names and 404s."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import VideoFactory
from tests.video import fixtures_streaming
from tests.video.fixtures_streaming import bearer_client_for, cookie_client, segment_payload, write_hls
from video.models import Video

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/MP2T"

hls_video = fixtures_streaming.hls_video
ffmpeg_hls_video = fixtures_streaming.ffmpeg_hls_video


def stream_paths(video_id: int) -> list[str]:
    return [
        f"/api/video/{video_id}/master.m3u8",
        f"/api/video/{video_id}/master.m3u8/",
        f"/api/video/{video_id}/480p/index.m3u8",
        f"/api/video/{video_id}/480p/index.m3u8/",
        f"/api/video/{video_id}/480p/000.ts",
        f"/api/video/{video_id}/480p/000.ts/",
    ]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_json_404(response):
    assert response.status_code == 404, response.status_code
    assert response["Content-Type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"detail", "errors"}
    assert payload["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("index", range(6))
def test_streaming_urls_without_credentials_answer_json_401(api_client, hls_video, index):
    response = api_client.get(stream_paths(hls_video.pk)[index])
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_streaming_urls_with_a_bad_token_answer_401(api_client, hls_video):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get(f"/api/video/{hls_video.pk}/480p/000.ts")
    assert response.status_code == 401
    api_client.credentials()
    api_client.cookies["access_token"] = "garbage"
    assert api_client.get(f"/api/video/{hls_video.pk}/480p/000.ts").status_code == 401


@pytest.mark.django_db
def test_unknown_or_malformed_name_without_credentials_is_still_401(api_client, hls_video):
    assert api_client.get(f"/api/video/{hls_video.pk}/999p/index.m3u8").status_code == 401
    assert api_client.get(f"/api/video/{hls_video.pk}/480p/..%5C..%5Cx.ts").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("use_cookie", [False, True], ids=["bearer", "cookie"])
def test_master_playlist_is_served_with_the_hls_content_type(user, hls_video, use_cookie):
    client = cookie_client(user) if use_cookie else bearer_client_for(user)
    response = client.get(f"/api/video/{hls_video.pk}/master.m3u8")
    assert response.status_code == 200
    assert response["Content-Type"] == PLAYLIST_TYPE
    assert body(response) == (Path(settings.MEDIA_ROOT) / f"hls/{hls_video.pk}/master.m3u8").read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize("slash", ["", "/"])
def test_rung_playlist_is_served_with_the_hls_content_type(bearer_client, hls_video, slash):
    response = bearer_client.get(f"/api/video/{hls_video.pk}/480p/index.m3u8{slash}")
    assert response.status_code == 200
    assert response["Content-Type"] == PLAYLIST_TYPE
    assert b"000.ts" in body(response)


@pytest.mark.django_db
@pytest.mark.parametrize("slash", ["", "/"])
def test_segment_is_served_as_mpeg_ts_with_its_exact_bytes(bearer_client, hls_video, slash):
    response = bearer_client.get(f"/api/video/{hls_video.pk}/360p/002.ts{slash}")
    assert response.status_code == 200
    assert response["Content-Type"] == SEGMENT_TYPE
    assert body(response) == segment_payload("360p", 2)
    assert response["Content-Length"] == str(len(segment_payload("360p", 2)))


@pytest.mark.django_db
def test_segment_with_cookie_authentication(user, hls_video):
    response = cookie_client(user).get(f"/api/video/{hls_video.pk}/480p/001.ts")
    assert response.status_code == 200
    assert body(response) == segment_payload("480p", 1)


@pytest.mark.django_db
def test_an_accept_header_asking_for_the_media_type_is_not_refused(bearer_client, hls_video):
    response = bearer_client.get(
        f"/api/video/{hls_video.pk}/480p/000.ts", HTTP_ACCEPT="video/MP2T, application/vnd.apple.mpegurl"
    )
    assert response.status_code == 200
    missing = bearer_client.get(f"/api/video/{hls_video.pk}/480p/404.ts", HTTP_ACCEPT="video/MP2T")
    assert_json_404(missing)


@pytest.mark.django_db
def test_real_ffmpeg_hls_output_is_served_segment_by_segment(bearer_client, ffmpeg_hls_video):
    video_id = ffmpeg_hls_video.pk
    playlist = bearer_client.get(f"/api/video/{video_id}/120p/index.m3u8")
    assert playlist.status_code == 200
    uris = [line for line in body(playlist).decode().splitlines() if line and not line.startswith("#")]
    names = [uri.partition("?")[0] for uri in uris]
    assert names and all(name.endswith(".ts") for name in names)
    folder = Path(settings.MEDIA_ROOT) / "hls" / str(video_id) / "120p"
    for name in names:
        response = bearer_client.get(f"/api/video/{video_id}/120p/{name}")
        assert response.status_code == 200
        data = body(response)
        assert data == (folder / name).read_bytes()
        assert data[0] == 0x47  # MPEG-TS sync byte


# --- 404s -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("index", range(6))
def test_unknown_video_answers_json_404(bearer_client, hls_video, index):
    assert_json_404(bearer_client.get(stream_paths(hls_video.pk + 1000)[index]))


@pytest.mark.django_db
def test_an_id_beyond_the_database_range_answers_404(bearer_client, hls_video):
    assert_json_404(bearer_client.get(f"/api/video/{2**70}/480p/000.ts"))
    assert_json_404(bearer_client.get(f"/api/video/{'9' * 5000}/master.m3u8"))


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Video.Status.PENDING, Video.Status.PROCESSING, Video.Status.FAILED])
def test_video_that_is_not_ready_answers_404_even_with_files(bearer_client, status):
    video = VideoFactory(status=status, rungs=["480p"])
    write_hls(video, rungs=("480p",))
    for path in stream_paths(video.pk):
        assert_json_404(bearer_client.get(path))


@pytest.mark.django_db
def test_rung_that_was_not_produced_answers_404(bearer_client, hls_video):
    # 1080p is a valid rung name but not in the rungs; 720p's folder exists but is not listed.
    write_hls(hls_video, rungs=("720p",))
    for rung in ("1080p", "720p"):
        assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/{rung}/index.m3u8"))
        assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/{rung}/000.ts"))


@pytest.mark.django_db
def test_listed_rung_whose_files_are_missing_answers_404(bearer_client, hls_video):
    hls_video.rungs = ["360p", "480p", "720p"]
    hls_video.save()
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/720p/index.m3u8"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/720p/000.ts"))


@pytest.mark.django_db
def test_segment_on_disk_but_not_in_the_playlist_answers_404(bearer_client, hls_video):
    folder = Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk) / "480p"
    (folder / "003.ts").write_bytes(b"not listed")
    (folder / "extra.ts").write_bytes(b"not listed")
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/003.ts"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/extra.ts"))


@pytest.mark.django_db
def test_segment_listed_but_missing_on_disk_answers_404(bearer_client, hls_video):
    (Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk) / "480p" / "001.ts").unlink()
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/001.ts"))


@pytest.mark.django_db
def test_playlist_name_is_not_a_segment(bearer_client, hls_video):
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/master.m3u8"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/index.m3u8.ts"))


# --- Traversal --------------------------------------------------------------------------------

TRAVERSALS = [
    "{id}/480p/..%2F..%2F..%2Fsecret.ts",
    "{id}/480p/%2e%2e%2f%2e%2e%2fsecret.ts",
    "{id}/480p/%2e%2e",
    "{id}/480p/..",
    "{id}/%2e%2e/480p/000.ts",
    "{id}/..%2F{id}/480p/000.ts",
    "{id}/480p/..%5C..%5Csecret.ts",
    "{id}/480p/..\\..\\secret.ts",
    "{id}/480p/000.ts%00",
    "{id}/480p/000%00.ts",
    "{id}/480p%00/000.ts",
    "{id}/480p/%2Fetc%2Fpasswd",
    "{id}/480p//etc/passwd",
    "{id}/480p/C:%5Csecret.ts",
    "{id}/480p/%252e%252e%252fsecret.ts",
    "{id}/480p/.%2F000.ts",
    "{id}/480p/%20000.ts",
    "{id}/480p/0000000000000000.ts",
    "{id}/480p/-01.ts",
    "{id}/%2e%2e/index.m3u8",
    "{id}/480p%2F..%2F360p/index.m3u8",
    "{id}/..%2F..%2Fsecret/index.m3u8",
    "{id}/.480p/index.m3u8",
    "{id}/480P/index.m3u8",
    "{id}/%00/index.m3u8",
]


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", TRAVERSALS)
def test_every_traversal_attempt_answers_json_404(bearer_client, hls_video, pattern):
    # A file the attacker would like to read, right next to the HLS folders.
    (Path(settings.MEDIA_ROOT) / "hls" / "secret.ts").write_bytes(b"secret")
    (Path(settings.MEDIA_ROOT) / "secret.ts").write_bytes(b"secret")
    response = bearer_client.get("/api/video/" + pattern.format(id=hls_video.pk))
    assert_json_404(response)
    assert b"secret" not in response.content


@pytest.mark.django_db
def test_symlinked_segment_listed_in_the_playlist_answers_404(bearer_client, hls_video, tmp_path):
    outside = tmp_path / "outside.ts"
    outside.write_bytes(b"outside the hls folder")
    folder = Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk) / "480p"
    (folder / "000.ts").unlink()
    os.symlink(outside, folder / "000.ts")
    # Even a link to a file inside the same folder is refused: nothing below the root is followed.
    (folder / "001.ts").unlink()
    os.symlink(folder / "002.ts", folder / "001.ts")
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/000.ts"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/001.ts"))
    assert bearer_client.get(f"/api/video/{hls_video.pk}/480p/002.ts").status_code == 200


@pytest.mark.django_db
def test_symlinked_rung_folder_and_playlist_answer_404(bearer_client, hls_video, tmp_path):
    root = Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk)
    foreign = VideoFactory(rungs=["480p"])
    foreign_root = write_hls(foreign, rungs=("480p",))
    # 360p of hls_video now points at another video's folder; its master playlist at a file outside.
    import shutil

    shutil.rmtree(root / "360p")
    os.symlink(foreign_root / "480p", root / "360p")
    outside = tmp_path / "outside.m3u8"
    outside.write_text("#EXTM3U\n")
    (root / "master.m3u8").unlink()
    os.symlink(outside, root / "master.m3u8")
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/360p/index.m3u8"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/360p/000.ts"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/master.m3u8"))


@pytest.mark.django_db
def test_video_folder_that_is_a_symlink_answers_404(bearer_client, tmp_path):
    video = VideoFactory(rungs=["480p"])
    elsewhere = VideoFactory(rungs=["480p"])
    target = write_hls(elsewhere, rungs=("480p",))
    os.symlink(target, Path(settings.MEDIA_ROOT) / "hls" / str(video.pk))
    assert_json_404(bearer_client.get(f"/api/video/{video.pk}/480p/000.ts"))


@pytest.mark.django_db
def test_rung_name_smuggled_into_rungs_cannot_escape(bearer_client, hls_video):
    # Even if a bad value reached the row, only plain "<height>p" names are used in paths.
    hls_video.rungs = ["../..", "480p/../../x", "480p"]
    hls_video.save()
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/..%2F../index.m3u8"))
    assert bearer_client.get(f"/api/video/{hls_video.pk}/480p/index.m3u8").status_code == 200


@pytest.mark.django_db
def test_playlist_listing_a_traversing_uri_does_not_serve_it(bearer_client, hls_video):
    folder = Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk) / "480p"
    (Path(settings.MEDIA_ROOT) / "hls" / str(hls_video.pk) / "leak.ts").write_bytes(b"leak")
    with (folder / "index.m3u8").open("a") as playlist:
        playlist.write("../leak.ts\n/etc/passwd\n")
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/..%2Fleak.ts"))
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/%2Fetc%2Fpasswd"))


@pytest.mark.django_db
def test_video_withdrawn_after_streaming_answers_404_once_the_catalogue_is_invalidated(
    bearer_client, hls_video
):
    from video.catalogue.cache import catalogue_invalidate

    assert bearer_client.get(f"/api/video/{hls_video.pk}/480p/000.ts").status_code == 200
    # What the pipeline does on a re-transcode: a queryset update and an explicit invalidation.
    Video.objects.filter(pk=hls_video.pk).update(status=Video.Status.PROCESSING, rungs=[])
    catalogue_invalidate()
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/000.ts"))
    Video.objects.filter(pk=hls_video.pk).update(status=Video.Status.READY, rungs=["360p"])
    catalogue_invalidate()
    assert_json_404(bearer_client.get(f"/api/video/{hls_video.pk}/480p/000.ts"))
    assert bearer_client.get(f"/api/video/{hls_video.pk}/360p/000.ts").status_code == 200
