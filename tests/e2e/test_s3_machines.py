"""No part relies on a shared disk: one gunicorn and two RQ workers, each with a private
MEDIA_ROOT (their scratch folder too), on one SeaweedFS. Staff upload through the web process,
whichever worker takes a job transcodes it, a viewer plays every segment straight from the store
and staff delete videos; afterwards the bucket holds exactly what the rows reference and no
private folder holds media."""

import re
from pathlib import Path

import pytest
import requests
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import CategoryFactory, UserFactory
from tests.support import admin_session, gunicorn, live_env, make_clip, rq_worker, wait_until
from video.models import Video

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "Sturdy-Passw0rd!"
UPLOADS = 4


def files_under(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.rglob("*") if path.is_file())


def referenced_keys(video: Video, store, bucket: str) -> set[str]:
    keys = {video.source.name, video.thumbnail.name}
    return keys | set(store.keys(bucket, f"hls/{video.pk}/{video.hls_version}/"))


def upload(session, base_url: str, clip: Path, category_id: int, title: str) -> None:
    form = session.get(f"{base_url}/admin/video/video/add/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    with open(clip, "rb") as handle:
        answer = session.post(
            f"{base_url}/admin/video/video/add/",
            data={"csrfmiddlewaretoken": token, "title": title, "description": "", "category": category_id},
            files={"source": (clip.name, handle, "video/mp4")},
            headers={"Referer": f"{base_url}/admin/video/video/add/"},
            timeout=60,
            allow_redirects=False,
        )
    assert answer.status_code == 302, answer.text[-2000:]


def delete(session, base_url: str, video_id: int) -> None:
    url = f"{base_url}/admin/video/video/{video_id}/delete/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(url, timeout=10).text)[1]
    answer = session.post(
        url, data={"csrfmiddlewaretoken": token, "post": "yes"}, headers={"Referer": url}, timeout=30,
        allow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 302, answer.text[-2000:]


def play_every_segment(base_url: str, token: str, video: Video, store) -> int:
    """Fetch each rung playlist from the web process and every segment it lists from the store."""
    headers = {"Authorization": f"Bearer {token}"}
    fetched = 0
    for rung in video.rungs:
        playlist = requests.get(
            f"{base_url}/api/video/{video.pk}/{rung}/index.m3u8", headers=headers, timeout=10
        )
        assert playlist.status_code == 200, playlist.text
        for url in (line for line in playlist.text.splitlines() if line and not line.startswith("#")):
            assert url.startswith(store.endpoint + "/")  # bytes from the store, not from web
            segment = requests.get(url, timeout=10)
            assert segment.status_code == 200 and segment.content[:1] == b"G"
            fetched += 1
    return fetched


def test_web_and_two_workers_with_private_disks_share_only_the_bucket(seaweed, settings, tmp_path):
    bucket = "machines"
    seaweed.client().create_bucket(Bucket=bucket)
    roots = {name: tmp_path / name / "media" for name in ("web", "worker-a", "worker-b")}
    for root in roots.values():
        root.mkdir(parents=True)
    staff = UserFactory(password=PASSWORD, is_staff=True, is_superuser=True)
    category = CategoryFactory(name="Distributed")
    clips = [make_clip(tmp_path / f"film-{n}.mp4", width=640, height=360, seconds=6) for n in range(UPLOADS)]
    common = {**seaweed.env(bucket), "AWS_S3_URL_PROTOCOL": "http:", "VIDEO_RUNGS": "120p,360p",
              "VIDEO_HLS_SEGMENT_SECONDS": "2", "DB_CONN_MAX_AGE": "0", "LOG_LEVEL": "INFO"}  # fmt: skip
    env = {name: live_env(settings, **common, MEDIA_ROOT=root) for name, root in roots.items()}

    with (
        gunicorn(env["web"], tmp_path) as web,
        rq_worker(env["worker-a"], tmp_path, name="worker-a") as worker_a,
        rq_worker(env["worker-b"], tmp_path, name="worker-b") as worker_b,
    ):
        session = admin_session(web.url, staff.email, PASSWORD)
        for number, clip in enumerate(clips):
            upload(session, web.url, clip, category.pk, f"Film {number}")
        videos = Video.objects.order_by("pk")
        assert wait_until(
            lambda: all(video.status in ("ready", "failed") for video in videos.all()),
            timeout=300,
            interval=1,
        ), worker_a.log() + worker_b.log()
        assert [video.status for video in videos.all()] == ["ready"] * UPLOADS, [v.error for v in videos]
        done = {
            name: w.log().count("Successfully completed") for name, w in (("a", worker_a), ("b", worker_b))
        }
        assert all(done.values()), f"both workers should have transcoded: {done}"

        token = str(RefreshToken.for_user(UserFactory()).access_token)
        assert all(play_every_segment(web.url, token, video, seaweed) for video in videos.all())

        kept, deleted = list(videos.all())[:2], list(videos.all())[2:]
        for video in deleted:
            delete(session, web.url, video.pk)

    assert sorted(Video.objects.values_list("pk", flat=True)) == [video.pk for video in kept]
    expected = set().union(*(referenced_keys(video, seaweed, bucket) for video in kept))
    assert set(seaweed.keys(bucket)) == expected
    assert not any(seaweed.keys(bucket, f"hls/{video.pk}/") for video in deleted)
    for name, root in roots.items():
        assert files_under(root) == [], name
