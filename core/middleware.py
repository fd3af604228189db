"""Keep every answer under /api/ JSON, whatever produced it."""

import json
import logging

from django.conf import settings

from core.exceptions import json_error

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ApiJsonErrorMiddleware:
    """Turns non-JSON error pages under /api/ into the API's JSON error shape.

    Django answers some errors before any DRF view runs (unknown URL, CSRF failure, an
    oversized body, an unhandled exception in DEBUG); those would otherwise be HTML pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json") and _is_json(response):
            return response
        replacement = json_error(response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        if settings.DEBUG:
            return json_error(500, f"{type(exception).__name__}: {exception}")
        return json_error(500)


def _is_json(response) -> bool:
    if getattr(response, "streaming", False):
        return True
    try:
        json.loads(response.content or b"null")
    except ValueError:
        return False
    return True
