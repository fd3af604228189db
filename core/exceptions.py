"""One JSON shape for every error under /api/.

Every error body is ``{"detail": "<sentence>", "errors": {"<field>": ["<sentence>", ...]}}``:
``detail`` always holds a human-readable summary, ``errors`` holds per-field messages for
validation errors and is empty otherwise. The SPA shows every string it finds, so no machine
codes are put in the body.
"""

from http import HTTPStatus

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler, set_rollback

VALIDATION_SUMMARY = "Some of the submitted values are invalid."

STATUS_MESSAGES = {
    400: "The request could not be understood.",
    401: "Authentication credentials were not provided or are invalid.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request is too large.",
    429: "Too many requests. Please wait and try again.",
    500: "Something went wrong on our side. Please try again later.",
    503: "The service is temporarily unavailable.",
}


def status_message(status: int) -> str:
    """A human-readable sentence for an HTTP status code."""
    if status in STATUS_MESSAGES:
        return STATUS_MESSAGES[status]
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return "The request failed."


class ErrorSerializer(serializers.Serializer):
    """The shape above, for the OpenAPI schema of every endpoint."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def error_body(detail: str, errors: dict | None = None) -> dict:
    return {"detail": str(detail), "errors": errors or {}}


def json_error(status: int, detail: str | None = None, errors: dict | None = None) -> JsonResponse:
    return JsonResponse(error_body(detail or status_message(status), errors), status=status)


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _flatten(value) -> list[str]:
    """Turn DRF's nested error detail (lists, dicts) into a flat list of strings."""
    if isinstance(value, dict):
        return [message for item in value.values() for message in _flatten(item)]
    if isinstance(value, list | tuple):
        return [message for item in value for message in _flatten(item)]
    return [str(value)]


def _validation_body(detail) -> dict:
    if not isinstance(detail, dict):
        messages = _flatten(detail)
        return error_body(" ".join(messages) or VALIDATION_SUMMARY)
    non_field = _flatten(detail.get("non_field_errors", [])) + _flatten(detail.get("detail", []))
    fields = {
        field: _flatten(messages)
        for field, messages in detail.items()
        if field not in ("non_field_errors", "detail")
    }
    summary = " ".join(non_field) if non_field else VALIDATION_SUMMARY
    return error_body(summary, fields)


def api_exception_handler(exc, context):
    """DRF exception handler: every handled error becomes the shape above."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE when DRF parses it.
        exc = RequestTooLarge()

    response = exception_handler(exc, context)
    if response is None:
        # Unhandled: the middleware logs it and answers a JSON 500.
        return None

    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else None
        messages = _flatten(detail) if detail is not None else []
        response.data = error_body(" ".join(messages) or status_message(response.status_code))
    set_rollback()
    return response
