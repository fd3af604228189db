"""gunicorn settings from the environment (a minimal stand-in; see the GUNICORN_* variables)."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
reload = os.environ.get("GUNICORN_RELOAD", "false").lower() in ("1", "true", "yes")
accesslog = "-"
errorlog = "-"
