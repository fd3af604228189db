"""Tools that tests and benchmarks (bench/) share: free ports and waiting, small HTTP calls, the
project's processes (gunicorn with gunicorn.conf.py, RQ workers, manage.py), private PostgreSQL
and Redis servers, media made by ffmpeg, and a TCP relay that throttles or drops a browser's
network. Nothing here imports Django at import time."""

from tests.support.media import ffmpeg, make_clip
from tests.support.net import admin_session, free_port, http_get, http_post_json, wait_until
from tests.support.processes import (
    BASE_DIR,
    Service,
    django_env,
    gunicorn,
    live_env,
    manage,
    rq_worker,
    started,
    stop,
)
from tests.support.relay import Relay
from tests.support.servers import private_postgres, private_redis

__all__ = [
    "BASE_DIR",
    "Relay",
    "Service",
    "admin_session",
    "django_env",
    "ffmpeg",
    "free_port",
    "gunicorn",
    "http_get",
    "http_post_json",
    "live_env",
    "make_clip",
    "manage",
    "private_postgres",
    "private_redis",
    "rq_worker",
    "started",
    "stop",
    "wait_until",
]
