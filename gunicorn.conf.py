"""gunicorn's settings, read from the environment: the one place the web process is configured.

Used by backend.entrypoint.sh, `make run`, and the tests and benchmarks that start gunicorn
(tests/support/processes.py), all as `gunicorn -c gunicorn.conf.py core.wsgi:application`.
Options given on the command line win over these.
"""

import os


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("true", "1", "yes")


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# gthread keeps connections alive between requests; one thread per worker, as measured in
# docs/BENCHMARKS.md.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
reload = _flag("GUNICORN_RELOAD", "false")
# "-" is stdout; an empty GUNICORN_ACCESS_LOG turns the access log off (the benchmarks do).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
