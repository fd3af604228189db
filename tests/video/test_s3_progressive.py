"""Watching while it encodes with MEDIA_STORAGE=s3, on a real SeaweedFS: the version is named by the
row from the moment the film is playable, every playlist in the bucket lists only segments already
stored, the API reads a growing playlist afresh (no cached, stale object), and a job failing for
good removes the version. Checks "while the job runs" are made from inside the job (a spy around
its half-second step), through the real views."""

import pytest

from tests.support.spies import after_first_publish
from tests.video.test_pipeline_progressive import body, make_film
from video import layout
from video.catalogue.cache import catalogue_state
from video.models import Video
from video.pipeline import transcode
from video.pipeline.ffmpeg import playlists

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def stored_text(store, key: str) -> str | None:
    try:
        return store.client().get_object(Bucket=store.bucket, Key=key)["Body"].read().decode()
    except store.client().exceptions.NoSuchKey:
        return None


def segment_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_on_s3_a_film_plays_while_it_encodes_from_playlists_that_list_only_stored_segments(
    s3_media, make_video, tmp_path, bearer_client, monkeypatch, settings
):
    settings.VIDEO_RUNGS = ["120p", "360p"]
    settings.VIDEO_X264_PRESET = "medium"
    video = make_film(make_video, tmp_path / "film.mp4", width=640, height=360)
    seen = []
    original = transcode._Publisher.watch

    def spy(self, encodes):
        still_current = original(self, encodes)
        row = Video.objects.filter(pk=video.pk, playable=True).first()
        if row is None or row.status == Video.Status.READY or len(seen) > 40:
            return still_current
        stored = set(s3_media.keys(s3_media.bucket, layout.hls_version_prefix(video.pk, row.hls_version)))
        rungs = {}
        for rung in row.rungs:
            text = stored_text(s3_media, layout.hls_key(video.pk, row.hls_version, rung, "index.m3u8"))
            listed = [layout.hls_key(video.pk, row.hls_version, rung, n) for n in segment_lines(text)]
            answer = bearer_client.get(f"/api/video/{video.pk}/{rung}/index.m3u8")
            rungs[rung] = {
                "listed_stored": set(listed) <= stored,
                "count": len(listed),
                "answer": (answer.status_code, answer["Cache-Control"], len(segment_lines(body(answer)))),
                "endlist": "#EXT-X-ENDLIST" in text,
            }
        seen.append({"version": row.hls_version, "catalogue": catalogue_state()[0], "rungs": rungs})
        return still_current

    monkeypatch.setattr(transcode._Publisher, "watch", spy)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == Video.Status.READY

    assert seen, "the film was never playable before it was ready"
    video.refresh_from_db()
    assert {moment["version"] for moment in seen} == {video.hls_version}  # one version throughout
    for moment in seen:
        for rung, state in moment["rungs"].items():
            assert state["listed_stored"], (rung, moment)  # never a listed segment that is not stored
            status, cache_control, answered = state["answer"]
            assert status == 200 and answered >= state["count"] - 1
            if not state["endlist"]:
                assert cache_control == "private, no-cache"
    # The API answered the growing playlist afresh: within one catalogue version it grew.
    by_version = {}
    for moment in seen:
        by_version.setdefault(moment["catalogue"], []).append(moment["rungs"]["120p"]["answer"][2])
    assert any(counts[-1] > counts[0] for counts in by_version.values()), by_version

    prefix = layout.hls_version_prefix(video.pk, video.hls_version)
    final = stored_text(s3_media, f"{prefix}360p/index.m3u8")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in final and final.rstrip().endswith("#EXT-X-ENDLIST")
    assert len(playlists.parse_media_text(final)) == 8
    assert {key.split("/")[2] for key in s3_media.keys(s3_media.bucket, "hls/")} == {video.hls_version}
    assert not any(key.endswith((".encoder.m3u8", ".plan.json")) for key in s3_media.keys(s3_media.bucket))
    assert list(settings.MEDIA_ROOT.rglob("*.ts")) == []  # nothing left on the worker's disk


def test_on_s3_a_job_failing_for_good_mid_encode_removes_its_version(
    s3_media, make_video, tmp_path, bearer_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.VIDEO_RUNGS = ["120p", "360p"]
    settings.VIDEO_X264_PRESET = "medium"
    video = make_film(make_video, tmp_path / "film.mp4", width=640, height=360)
    seen = {}

    def watch_then_break():
        seen["version"] = Video.objects.get(pk=video.pk).hls_version
        seen["playlist"] = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8").status_code
        raise RuntimeError("the store went away")

    after_first_publish(monkeypatch, watch_then_break)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        transcode.video_transcode(video_id=video.pk, job_id="growing", final_attempt=True)

    video.refresh_from_db()
    assert seen["playlist"] == 200 and seen["version"]
    assert (video.status, video.playable, video.hls_version) == ("failed", False, "")
    reload = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8")
    assert reload.status_code == 404 and reload.json()["detail"]
    assert s3_media.keys(s3_media.bucket, "hls/") == []


def test_on_s3_a_new_version_of_a_ready_film_is_uploaded_beside_the_old_one_which_keeps_playing(
    s3_media, make_video, tmp_path, bearer_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    from video.pipeline import services

    settings.VIDEO_RUNGS = ["120p"]
    video = make_film(make_video, tmp_path / "film.mp4", width=640, height=360)
    assert transcode.video_transcode(video_id=video.pk, job_id="growing") == Video.Status.READY
    video.refresh_from_db()
    old = video.hls_version

    settings.VIDEO_RUNGS = ["120p", "360p"]
    with django_capture_on_commit_callbacks(execute=True):
        job_id = services.video_enqueue_transcode(video=video)
    seen = []
    original = transcode._Publisher.watch

    def spy(self, encodes):
        still_current = original(self, encodes)
        row = Video.objects.get(pk=video.pk)
        listed = [(item["id"], item["ready"]) for item in bearer_client.get("/api/video/").json()]
        playlist = bearer_client.get(f"/api/video/{video.pk}/120p/index.m3u8")
        seen.append(
            (row.hls_version, row.rungs, listed, playlist.status_code, "#EXT-X-ENDLIST" in body(playlist))
        )
        return still_current

    monkeypatch.setattr(transcode._Publisher, "watch", spy)
    with django_capture_on_commit_callbacks(execute=True):
        assert transcode.video_transcode(video_id=video.pk, job_id=job_id) == Video.Status.READY

    assert seen and all(moment == (old, ["120p"], [(video.pk, False)], 200, True) for moment in seen), seen
    video.refresh_from_db()
    assert video.hls_version != old and video.rungs == ["120p", "360p"]
    # The old version stays for viewers who hold its signed URLs, marked as replaced.
    assert {key.split("/")[2] for key in s3_media.keys(s3_media.bucket, "hls/")} == {old, video.hls_version}
    assert s3_media.keys(s3_media.bucket, "hls-retired/") == [f"hls-retired/{video.pk}/{old}"]
