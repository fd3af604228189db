"""The signing endpoints of browser-to-bucket uploads (MEDIA_STORAGE=s3), for Uppy's AwsS3 plugin
in frontend/src/uploader.js. Staff who may add or change videos, with their Django session; every
request is a POST with Django's CSRF token in an X-CSRFToken header (CsrfViewMiddleware).

    POST uploads/s3/        {"filename", "size"}: the multipart upload to send the file to (the
                            caller's open one of that name and size, to resume)
                            -> {"key", "uploadId", "partBytes": the size of every part but the last}
    POST uploads/s3/sign    {"method", "key", "uploadId", "partNumber"}: a presigned URL for one
                            request of that upload (a part, the parts so far, complete, abort)
    POST uploads/s3/check   {"key"}: after the completion, the upload checks on the object
                            -> {"upload": token for the video form}; a refusal is 422 and deletes it

Refusals answer text/plain with a sentence for staff, as the tus endpoints do.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from video import media_store
from video.uploads import bucket
from video.uploads.services import UploadRefused


def _refusal(status: HTTPStatus, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def s3_uploader(view):
    """Staff who may add or change videos, in s3 mode, sending a JSON object; refusals as text."""

    def checked(request):
        user = request.user
        if not (user.is_active and user.is_staff) or not (
            user.has_perm("video.add_video") or user.has_perm("video.change_video")
        ):
            return _refusal(HTTPStatus.FORBIDDEN, "Only staff who may add videos can upload.")
        if not media_store.enabled():
            return _refusal(HTTPStatus.NOT_FOUND, "Uploads go to the bucket only with MEDIA_STORAGE=s3.")
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError
            return view(request, body)
        except (ValueError, TypeError, KeyError):
            return _refusal(HTTPStatus.BAD_REQUEST, "The request is not the JSON object this endpoint takes.")
        except UploadRefused as error:
            return _refusal(error.status, error.message)
        except media_store.StoreError as error:
            return _refusal(HTTPStatus.SERVICE_UNAVAILABLE, str(media_store.StoreUnavailable(error)))

    return never_cache(require_POST(checked))


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


@s3_uploader
def upload_start(request, body):
    upload = bucket.upload_start(
        owner_id=request.user.pk, filename=str(body.get("filename") or ""), size=_integer(body["size"])
    )
    return JsonResponse({"key": upload.key, "uploadId": upload.upload_id, "partBytes": upload.part_bytes})


@s3_uploader
def upload_sign(request, body):
    part_number = body.get("partNumber")
    url = bucket.upload_sign(
        owner_id=request.user.pk,
        method=str(body["method"]),
        key=str(body["key"]),
        upload_id=str(body.get("uploadId") or ""),
        part_number=None if part_number is None else _integer(part_number),
    )
    return JsonResponse({"url": url})


@s3_uploader
def upload_check(request, body):
    token = bucket.upload_check(owner_id=request.user.pk, key=str(body["key"]))
    return JsonResponse({"upload": token})
