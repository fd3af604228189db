"""`/api/health/`: is every part Videoflix needs to serve and transcode up?"""

import os
import shutil
from pathlib import Path

import django_rq
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rq import Worker

from core.exceptions import ErrorSerializer


def _check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _check_cache() -> str | None:
    # django-redis ignores outages on normal calls; talk to the client to see the truth.
    from django_redis import get_redis_connection

    get_redis_connection("default").ping()
    return None


def _check_queue() -> str | None:
    django_rq.get_connection("default").ping()
    return None


def _check_worker() -> str | None:
    workers = Worker.all(connection=django_rq.get_connection("default"))
    if not workers:
        return "No RQ worker is running."
    return None


def _check_storage() -> str | None:
    """Local: MEDIA_ROOT is a writable folder. s3: the bucket answers with these credentials."""
    from video import media_store

    if not media_store.enabled():
        # A MEDIA_ROOT not made yet is fine: storage creates it below its first existing parent.
        existing = Path(settings.MEDIA_ROOT)
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not (existing.is_dir() and os.access(existing, os.W_OK)):
            return f"MEDIA_ROOT ({settings.MEDIA_ROOT}) is not a writable folder."
        return None
    media_store.client().head_bucket(Bucket=media_store.bucket())
    return None


def _check_binary(name: str):
    def check() -> str | None:
        if shutil.which(name) is None:
            return f"{name} is not on the PATH."
        return None

    return check


CHECKS = {
    "database": _check_database,
    "cache": _check_cache,
    "queue": _check_queue,
    "worker": _check_worker,
    "storage": _check_storage,
    "ffmpeg": _check_binary("ffmpeg"),
    "ffprobe": _check_binary("ffprobe"),
}


def run_checks(names=None) -> dict[str, dict]:
    """Run the named checks (all by default); each answers {"ok": bool} plus an "error" sentence."""
    results = {}
    for name in names or CHECKS:
        check = CHECKS[name]
        try:
            error = check()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer here
            error = f"{type(exc).__name__}: {exc}"
        results[name] = {"ok": error is None} | ({"error": error} if error else {})
    return results


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(required=False)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    checks = serializers.DictField(child=HealthCheckSerializer())


@extend_schema(
    summary="Health of the database, Redis, the RQ worker, the media storage and ffmpeg",
    parameters=[
        OpenApiParameter(
            "only",
            str,
            description="Comma-separated subset of checks to run: " + ", ".join(CHECKS),
            required=False,
        )
    ],
    responses={200: HealthSerializer, 400: ErrorSerializer, 503: HealthSerializer},
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request):
    only = [name.strip() for name in request.query_params.get("only", "").split(",") if name.strip()]
    unknown = sorted(set(only) - set(CHECKS))
    if unknown:
        raise ValidationError(
            {"only": [f"Unknown check: {', '.join(unknown)}. Known checks: {', '.join(CHECKS)}."]}
        )
    checks = run_checks(only)
    failing = [name for name, result in checks.items() if not result["ok"]]
    if failing:
        body = {
            "status": "unavailable",
            "detail": "Failing: " + ", ".join(failing) + ".",
            "errors": {name: [checks[name]["error"]] for name in failing},
            "checks": checks,
        }
        return Response(body, status=503)
    return Response({"status": "ok", "detail": "All systems operational.", "errors": {}, "checks": checks})
