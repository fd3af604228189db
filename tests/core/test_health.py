"""/api/health/ against a real RQ worker process and the real PATH."""

import os
import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from rq import Worker

from tests.support import stop, wait_until

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_worker():
    """A real `manage.py rqworker` process on the test Redis database."""
    env = dict(os.environ)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default", "--name", f"health-test-{os.getpid()}"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connection = django_rq.get_connection("default")
    assert wait_until(lambda: len(Worker.all(connection=connection)) > 0), "worker never registered"
    yield process
    stop(process)  # SIGTERM, then SIGKILL: a worker left running would take other tests' jobs


@pytest.mark.django_db
def test_health_answers_200_when_every_part_is_up(client, live_worker):
    response = client.get("/api/health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "queue", "worker", "storage", "ffmpeg", "ffprobe"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_health_answers_503_naming_the_missing_worker(client):
    assert Worker.all(connection=django_rq.get_connection("default")) == []
    response = client.get("/api/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["detail"] == "Failing: worker."
    assert body["errors"] == {"worker": ["No RQ worker is running."]}
    assert body["checks"]["database"] == {"ok": True}


@pytest.mark.django_db
def test_health_answers_503_when_ffmpeg_is_not_on_the_path(client, live_worker, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    response = client.get("/api/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["detail"] == "Failing: ffmpeg, ffprobe."
    assert body["errors"]["ffmpeg"] == ["ffmpeg is not on the PATH."]


@pytest.mark.django_db
def test_health_can_run_a_subset_of_checks(client):
    response = client.get("/api/health/?only=database,cache")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "cache"}


@pytest.mark.django_db
def test_health_rejects_unknown_check_names(client):
    response = client.get("/api/health/?only=database,teapot")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "only": [
            "Unknown check: teapot. Known checks: database, cache, queue, worker, storage, ffmpeg, ffprobe."
        ]
    }


def test_health_check_uses_the_configured_queue_connection():
    connection = django_rq.get_connection("default")
    assert connection.connection_pool.connection_kwargs["db"] == settings.RQ_QUEUES["default"]["DB"]


def test_health_reports_a_media_root_that_is_not_a_writable_folder(client, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker / "media"

    response = client.get("/api/health/?only=storage")

    assert response.status_code == 503
    assert "MEDIA_ROOT" in response.json()["errors"]["storage"][0]
