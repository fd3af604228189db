"""The tus 1.0 resumable upload protocol (https://tus.io/protocols/resumable-upload) over the local
upload store, for the admin's uploader (Uppy's tus plugin, which uses the official tus-js-client).

Served under the admin, to staff who may add or change videos, with their Django session; requests
that change something carry Django's CSRF token in an X-CSRFToken header (CsrfViewMiddleware).

    OPTIONS  uploads/         the protocol version, extensions and Tus-Max-Size
    POST     uploads/         creation: Upload-Length (within VIDEO_MAX_UPLOAD_MB), Upload-Metadata
    HEAD     uploads/<id>     Upload-Offset and Upload-Length, to resume
    PATCH    uploads/<id>     append at Upload-Offset (application/offset+octet-stream)
    DELETE   uploads/<id>     termination

Extensions: creation, termination, expiration (Upload-Expires; an upload not written to for
VIDEO_UPLOAD_RESUME_HOURS answers 410 and is removed, by the worker's sweep if nobody asks).
Not implemented: creation-with-upload, creation-defer-length, concatenation, checksum.

The PATCH body is read from the request stream in bounded chunks (never `request.body`), so a
20 GB upload costs the web process no more memory than a small one. When the last byte arrives,
the upload checks run on the assembled file; a refusal answers 422 with the sentence as the body
(text/plain) and nothing of the upload is kept.
"""

from __future__ import annotations

import base64
import binascii
from functools import wraps
from http import HTTPStatus

from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from video.uploads import services
from video.uploads.services import UploadRefused
from video.uploads.store import UploadBusy

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


def tus_response(status: HTTPStatus, message: str = "", **headers: str) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Tus-Resumable"] = TUS_VERSION
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def refused(error: UploadRefused) -> HttpResponse:
    return tus_response(error.status, error.message)


def staff_uploader(view):
    """Staff who may add or change videos, with a supported protocol version; others get 403."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff) or not (
            user.has_perm("video.add_video") or user.has_perm("video.change_video")
        ):
            return tus_response(HTTPStatus.FORBIDDEN, "Only staff who may add videos can upload.")
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            return tus_response(
                HTTPStatus.PRECONDITION_FAILED, "Unsupported tus version.", Tus_Version=TUS_VERSION
            )
        return view(request, *args, **kwargs)

    return never_cache(checked)


def _integer_header(request, name: str) -> int:
    value = request.headers.get(name, "")
    if not (value.isascii() and value.isdigit()):
        raise UploadRefused(HTTPStatus.BAD_REQUEST, f"The {name} header must be a non-negative integer.")
    return int(value)


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs (the value may be absent)."""
    metadata = {}
    for pair in filter(None, (part.strip() for part in header.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise UploadRefused(HTTPStatus.BAD_REQUEST, "The Upload-Metadata header is malformed.") from error
    return metadata


def _expires(upload) -> str:
    return http_date(upload.expires_at)


@require_http_methods(["OPTIONS", "POST"])
@staff_uploader
def uploads(request):
    if request.method == "OPTIONS":
        return tus_response(
            HTTPStatus.NO_CONTENT,
            Tus_Version=TUS_VERSION,
            Tus_Extension=TUS_EXTENSIONS,
            Tus_Max_Size=str(services.max_upload_bytes()),
        )
    try:
        upload = services.upload_create(
            owner_id=request.user.pk,
            length=_integer_header(request, "Upload-Length"),
            metadata=parse_metadata(request.headers.get("Upload-Metadata", "")),
        )
    except UploadRefused as error:
        return refused(error)
    location = request.build_absolute_uri(reverse("admin:video_video_upload", args=[upload.id]))
    return tus_response(HTTPStatus.CREATED, Location=location, Upload_Expires=_expires(upload))


@require_http_methods(["OPTIONS", "HEAD", "PATCH", "DELETE"])
@staff_uploader
def upload(request, upload_id: str):
    if request.method == "OPTIONS":
        return tus_response(HTTPStatus.NO_CONTENT, Tus_Version=TUS_VERSION, Tus_Extension=TUS_EXTENSIONS)
    try:
        found = services.upload_find(upload_id=upload_id, owner_id=request.user.pk)
        if request.method == "HEAD":
            return tus_response(
                HTTPStatus.OK,
                Upload_Offset=str(found.offset),
                Upload_Length=str(found.length),
                Upload_Expires=_expires(found),
            )
        if request.method == "DELETE":
            services.upload_delete(upload=found)
            return tus_response(HTTPStatus.NO_CONTENT)
        return _append(request, found)
    except UploadRefused as error:
        return refused(error)
    except UploadBusy:
        # tus-js-client retries a 423: the previous request on this upload is still being read.
        return tus_response(HTTPStatus.LOCKED, "This upload is receiving another request; try again.")


def _append(request, found) -> HttpResponse:
    if request.content_type != OFFSET_CONTENT_TYPE:
        raise UploadRefused(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"A PATCH must be sent as {OFFSET_CONTENT_TYPE}."
        )
    if "Content-Length" not in request.headers:
        raise UploadRefused(HTTPStatus.LENGTH_REQUIRED, "A PATCH must say its Content-Length.")
    received = services.upload_receive(
        upload=found,
        stream=request,  # HttpRequest.read() streams the body, bounded by Content-Length
        offset=_integer_header(request, "Upload-Offset"),
        content_length=_integer_header(request, "Content-Length"),
    )
    return tus_response(
        HTTPStatus.NO_CONTENT, Upload_Offset=str(received.offset), Upload_Expires=_expires(received)
    )
