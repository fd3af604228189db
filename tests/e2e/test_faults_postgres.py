"""PostgreSQL restarts while gunicorn and the RQ worker run: nothing needs a restart."""

import json

import django_rq
import pytest
import redis
from django.conf import settings
from rq import Queue

from tests.support import (
    django_env,
    gunicorn,
    http_get,
    manage,
    private_postgres,
    rq_worker,
    wait_until,
)

pytestmark = [pytest.mark.faults]


def test_web_and_worker_survive_a_postgres_restart(tmp_path):
    with private_postgres() as postgres:
        env = django_env(DB_HOST="127.0.0.1", DB_PORT=postgres.port, DB_USER="postgres", DB_NAME="postgres")
        manage(env, "migrate", "--noinput")

        with gunicorn(env, tmp_path) as web, rq_worker(env, tmp_path, queues=("default",)):
            url = web.url + "/api/health/?only=database"
            for _ in range(4):  # both gunicorn workers hold a connection
                status, body = http_get(url)
                assert status == 200, body

            postgres.restart()

            # The very next requests succeed: stale connections are detected and replaced.
            for _ in range(6):
                status, body = http_get(url)
                assert status == 200, body + web.log().encode()
                assert json.loads(body)["checks"]["database"] == {"ok": True}

            # The worker runs a database job after the restart too.
            connection = redis.Redis(
                host=settings.RQ_QUEUES["default"]["HOST"],
                port=settings.RQ_QUEUES["default"]["PORT"],
                db=settings.RQ_QUEUES["default"]["DB"],
            )
            job = Queue("default", connection=connection).enqueue("core.health.run_checks", ["database"])
            assert wait_until(lambda: job.get_status(refresh=True) == "finished", timeout=60)
            assert job.return_value() == {"database": {"ok": True}}


def test_queue_connection_is_shared_with_the_test_settings():
    # The fault tests enqueue on the same Redis database the worker subprocess reads.
    kwargs = django_rq.get_connection("default").connection_pool.connection_kwargs
    assert kwargs["db"] == settings.RQ_QUEUES["default"]["DB"]
