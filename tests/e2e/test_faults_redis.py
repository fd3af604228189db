"""Redis goes away while staff upload a film: nothing is lost between the commit and the queue.

Real gunicorn, a real RQ worker and a private redis-server (queues and cache) that the test stops
and starts; the shared Redis of the machine is not touched.
"""

import json
import time
from pathlib import Path

import pytest
import requests
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import PASSWORD
from tests.factories import CategoryFactory, UserFactory, VideoFactory
from tests.support import (
    admin_session,
    django_env,
    gunicorn,
    make_clip,
    private_redis,
    rq_worker,
    wait_until,
)
from video.models import Video

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def private_redis_env(settings, redis_server, **extra) -> dict:
    """Processes on this test's database and media, with queues and cache on the private Redis."""
    return django_env(
        DB_NAME=connection.settings_dict["NAME"],
        MEDIA_ROOT=settings.MEDIA_ROOT,
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=redis_server.port,
        REDIS_DB=0,
        REDIS_LOCATION=f"redis://127.0.0.1:{redis_server.port}/1",
        VIDEO_STALE_AFTER_SECONDS=1,
        **extra,
    )


def test_upload_during_a_redis_outage_is_queued_once_redis_is_back(tmp_path, settings):
    staff = UserFactory(is_staff=True, is_superuser=True)
    viewer = UserFactory()
    category = CategoryFactory(name="Drama")
    VideoFactory(title="Already ready", category=category)
    clip = make_clip(tmp_path / "clip.mp4", width=640, height=360, seconds=2)

    with private_redis(tmp_path) as redis_server:
        env = private_redis_env(settings, redis_server, VIDEO_RUNGS="120p,360p", RQ_MAINTENANCE_INTERVAL=3)
        with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path) as worker:
            session = admin_session(web.url, staff.email, PASSWORD)
            redis_server.stop()

            # Staff upload while Redis is down: saved, and the admin answers normally.
            session.get(f"{web.url}/admin/video/video/add/", timeout=10)
            with open(clip, "rb") as source:
                response = session.post(
                    f"{web.url}/admin/video/video/add/",
                    data={
                        "title": "Uploaded in the dark",
                        "description": "Saved while Redis was down.",
                        "category": category.pk,
                        "csrfmiddlewaretoken": session.cookies["csrftoken"],
                    },
                    files={"source": ("clip.mp4", source, "video/mp4")},
                    headers={"Referer": f"{web.url}/admin/video/video/add/"},
                    timeout=60,
                    allow_redirects=False,
                )
            assert response.status_code == 302, response.text[:3000] + web.log()
            assert response.headers["Location"].endswith("/admin/video/video/")
            video = Video.objects.get(title="Uploaded in the dark")
            assert video.status == Video.Status.PENDING
            assert video.job_id
            assert session.get(f"{web.url}/admin/video/video/", timeout=10).status_code == 200

            # The catalogue is served from the database, and login still works (throttling fails open).
            token = str(AccessToken.for_user(viewer))
            response = requests.get(
                f"{web.url}/api/video/", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert response.status_code == 200, response.text
            assert [item["title"] for item in response.json()] == ["Already ready"]
            response = requests.post(
                f"{web.url}/api/login/", json={"email": viewer.email, "password": PASSWORD}, timeout=10
            )
            assert response.status_code == 200, response.text
            assert "access_token" in response.cookies

            time.sleep(2)
            redis_server.start()

            # Once Redis is back, the worker's sweep queues the lost job and the film is published.
            assert wait_until(lambda: Video.objects.get(pk=video.pk).status == "ready", timeout=180), (
                f"status {Video.objects.get(pk=video.pk).status}\n" + worker.log()
            )
            video.refresh_from_db()
            assert video.rungs == ["120p", "360p"]
            master = Path(settings.MEDIA_ROOT) / "hls" / str(video.pk) / "master.m3u8"
            assert "360p/index.m3u8" in master.read_text()
            assert worker.process.poll() is None, "the worker died during the outage"

            response = requests.get(
                f"{web.url}/api/video/", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            titles = [item["title"] for item in response.json()]
            assert titles == ["Uploaded in the dark", "Already ready"], json.dumps(response.json())


def test_after_redis_loses_its_data_workers_register_again_and_lost_jobs_are_queued_again(tmp_path, settings):
    """Security review, finding 11: a flushed Redis (a restart without persistence, a failover)
    must not leave health red for good while the workers run, nor lose the queued transcodes."""
    import redis
    from django.utils import timezone

    category = CategoryFactory(name="Drama")
    sources = Path(settings.MEDIA_ROOT) / "sources"
    sources.mkdir(parents=True)
    make_clip(sources / "queued.mp4", width=640, height=360, seconds=2)
    with private_redis(tmp_path) as redis_server:
        env = private_redis_env(settings, redis_server, VIDEO_RUNGS="120p", RQ_MAINTENANCE_INTERVAL=2)
        with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path) as worker:
            health = f"{web.url}/api/health/?only=worker"
            assert wait_until(lambda: requests.get(health, timeout=5).status_code == 200, timeout=30)
            # A transcode queued before the loss: its row says pending with a job id Redis will forget.
            video = VideoFactory(
                title="Queued before the loss", category=category, source="sources/queued.mp4", rungs=[]
            )
            Video.objects.filter(pk=video.pk).update(
                status=Video.Status.PENDING, job_id="lost-with-redis", updated_at=timezone.now()
            )
            redis.Redis(host="127.0.0.1", port=redis_server.port).flushall()

            assert wait_until(lambda: requests.get(health, timeout=5).status_code == 200, timeout=60), (
                worker.log()
            )
            # The flush removed the worker's listing; only the re-registration logs this line.
            assert "registering it again" in worker.log()
            assert worker.process.poll() is None
            assert wait_until(lambda: Video.objects.get(pk=video.pk).status == "ready", timeout=120), (
                f"status {Video.objects.get(pk=video.pk).status}\n" + worker.log()
            )
            assert Video.objects.get(pk=video.pk).rungs == ["120p"]
