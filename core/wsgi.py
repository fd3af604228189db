"""WSGI entry point for gunicorn: Django, with signed HLS segment URLs answered in front of it
(video/streaming/signed.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

django_application = get_wsgi_application()

from video.streaming.signed import SignedSegments  # noqa: E402 - needs the app registry above

application = SignedSegments(django_application)
