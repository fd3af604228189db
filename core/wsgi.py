"""WSGI entry point for gunicorn: Django, behind the HLS segment fast path (video/fast_path.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

django_application = get_wsgi_application()

from video.fast_path import with_segment_fast_path  # noqa: E402 - needs the app registry above

application = with_segment_fast_path(django_application)
