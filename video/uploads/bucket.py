"""The object-storage backend of resumable uploads (MEDIA_STORAGE=s3): the browser sends the film's
parts straight to the bucket with presigned multipart URLs, so no byte passes through a web
process, and any web host can sign, check or take an upload (nothing is kept on its disk).

    upload_start    a multipart upload for the staff member's file (size within the limit), or
                    their open one for the same file name and size, so a reloaded page resumes
    upload_sign     a URL for one request of that upload: a part (signed for its exact length),
                    the list of parts, the completion (only when the parts in the bucket add up
                    to the declared size) or the abort; nothing else, and only for the caller's
                    own key
    upload_check    after the completion: the checks of a plain upload on the assembled object
                    (read by ffmpeg through a presigned URL); a refused object is deleted
    upload_claim    an accepted upload for the video form, which keeps the object as the source
    upload_sweep    multipart uploads, checked objects and their records left longer than
                    VIDEO_UPLOAD_RESUME_HOURS (the bucket's lifecycle rule aborts uploads too)

Keys: `uploads/<owner id>/<size>-<hash of the file name>/<token>` for the object, and
`uploads/checked/<token>.json` for the record of an accepted one (what ffprobe read).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import re
import uuid
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction

from video import media_store
from video.models import Video
from video.pipeline.ffmpeg.probe import ProbeResult, check_upload
from video.pipeline.ffmpeg.process import ProbeError
from video.uploads.services import NOT_FOUND, UploadRefused, max_upload_bytes, too_large

PREFIX = "uploads/"
CHECKED_PREFIX = "uploads/checked/"
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part other than the last
PART_BYTES = 8 * 1024 * 1024  # the uploader's parts, unless a file needs more than MAX_PARTS
MAX_PARTS = 10_000
SIGNED_URL_SECONDS = 3600
_KEY = re.compile(r"^uploads/(?P<owner>\d+)/(?P<size>\d+)-(?P<name>[0-9a-f]{16})/(?P<token>[0-9a-f]{32})$")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class BucketUpload:
    key: str
    upload_id: str
    part_bytes: int  # every part but the last has exactly this size


@dataclass(frozen=True)
class ClaimedBucketUpload:
    key: str
    token: str
    filename: str
    probe: ProbeResult


def _name_hash(filename: str) -> str:
    return hashlib.sha256(filename.encode()).hexdigest()[:16]


def _size_of(key: str, owner_id: int) -> int:
    """The declared size in the caller's own key; anything else is not found."""
    match = _KEY.match(key or "")
    if match is None or int(match["owner"]) != owner_id:
        raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND)
    return int(match["size"])


def part_bytes(size: int) -> int:
    """The size of every part of a file of `size` bytes but the last (which holds the rest): the
    uploader is told it on `upload_start` and each part URL is signed for its exact length."""
    return max(PART_BYTES, math.ceil(size / MAX_PARTS))


def part_count(size: int) -> int:
    return math.ceil(size / part_bytes(size))


def part_length(size: int, part_number: int) -> int:
    """Bytes of part `part_number` (from 1) of a file of `size` bytes."""
    return min(part_bytes(size), size - (part_number - 1) * part_bytes(size))


def _resume_window() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.VIDEO_UPLOAD_RESUME_HOURS)


def upload_start(*, owner_id: int, filename: str, size: int) -> BucketUpload:
    """The caller's open multipart upload of this file name and size (to resume), else a new one;
    refused when the file is empty or larger than the limit."""
    if size > max_upload_bytes():
        raise too_large(size)
    if size <= 0:
        raise UploadRefused(HTTPStatus.BAD_REQUEST, "The file is empty.")
    filename = os.path.basename(filename or "upload")[:255]
    folder = f"{PREFIX}{owner_id}/{size}-{_name_hash(filename)}/"
    client, bucket = media_store.client(), media_store.bucket()
    cutoff = datetime.datetime.now(datetime.UTC) - _resume_window()
    open_uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=folder).get("Uploads", [])
    for upload in sorted(open_uploads, key=lambda item: item["Initiated"], reverse=True):
        if upload["Initiated"] >= cutoff and _KEY.match(upload["Key"]):
            return BucketUpload(key=upload["Key"], upload_id=upload["UploadId"], part_bytes=part_bytes(size))
    key = f"{folder}{uuid.uuid4().hex}"
    created = client.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        ContentType="application/octet-stream",
        Metadata={"filename": filename.encode().hex()},  # metadata is ASCII only
    )
    return BucketUpload(key=key, upload_id=created["UploadId"], part_bytes=part_bytes(size))


def upload_sign(*, owner_id: int, method: str, key: str, upload_id: str, part_number: int | None) -> str:
    """A presigned URL of the store (as browsers reach it) for one request of the caller's open
    multipart upload: PUT a part, GET its parts, POST the completion, DELETE (abort)."""
    size = _size_of(key, owner_id)
    operations = {"PUT": "upload_part", "GET": "list_parts", "POST": "complete_multipart_upload"}
    operation = operations.get(method, "abort_multipart_upload" if method == "DELETE" else None)
    if operation is None or not upload_id:
        raise UploadRefused(HTTPStatus.BAD_REQUEST, "Only requests of an open multipart upload are signed.")
    params = {"Key": key, "UploadId": upload_id}
    if operation == "upload_part":
        most_parts = part_count(size)
        if part_number is None or not 1 <= part_number <= most_parts:
            raise UploadRefused(HTTPStatus.BAD_REQUEST, f"The part number must be from 1 to {most_parts}.")
        # Signed into the URL: a store that checks signed headers (AWS S3, SeaweedFS) refuses a
        # part of any other length, so no part can be larger than planned.
        params |= {"PartNumber": part_number, "ContentLength": part_length(size, part_number)}
    _require_open(key, upload_id)
    if operation == "complete_multipart_upload":
        _require_parts_add_up(key, upload_id, size)
    return media_store.presigned_url(operation, params=params, expires_in=SIGNED_URL_SECONDS)


def _require_parts_add_up(key: str, upload_id: str, size: int) -> None:
    """Before the completion is signed: the parts in the bucket must hold exactly the declared
    size, none larger than a part of this file may be (a store that does not check the signed
    length would have kept it). Otherwise the multipart upload is aborted and refused."""
    client, name = media_store.client(), media_store.bucket()
    parts = []
    for page in client.get_paginator("list_parts").paginate(Bucket=name, Key=key, UploadId=upload_id):
        parts += page.get("Parts", [])
    largest = max(parts, key=lambda part: part["Size"], default=None)
    total = sum(part["Size"] for part in parts)
    if largest is not None and largest["Size"] > part_bytes(size):
        problem = (
            f"Part {largest['PartNumber']} of the upload holds {largest['Size']} bytes, more than the "
            f"{part_bytes(size)} bytes a part of this file may hold"
        )
    elif total != size:
        problem = f"The parts of the upload hold {total} bytes, not the file's {size} bytes"
    else:
        return
    client.abort_multipart_upload(Bucket=name, Key=key, UploadId=upload_id)
    raise UploadRefused(
        HTTPStatus.UNPROCESSABLE_ENTITY, f"{problem}; the upload was cancelled, please upload the file again."
    )


def _require_open(key: str, upload_id: str) -> None:
    try:
        media_store.client().list_parts(Bucket=media_store.bucket(), Key=key, UploadId=upload_id, MaxParts=1)
    except ClientError as error:
        if media_store.error_code(error) in ("NoSuchUpload", "404", "NotFound", "NoSuchKey"):
            raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND) from error
        raise


def upload_check(*, owner_id: int, key: str) -> str:
    """Check the completed object like a plain upload (ffprobe and a decode of its end); return
    the token the video form takes. A refused object is deleted."""
    size = _size_of(key, owner_id)
    try:
        head = media_store.client().head_object(Bucket=media_store.bucket(), Key=key)
    except ClientError as error:
        raise UploadRefused(HTTPStatus.NOT_FOUND, "The upload has not finished or was removed.") from error
    try:
        if head["ContentLength"] != size:
            raise ProbeError(
                f"The file arrived with {head['ContentLength']} bytes, not {size}; please upload it again."
            )
        probe = _check_object(key)
    except ProbeError as error:
        media_store.keys_delete([key])
        raise UploadRefused(HTTPStatus.UNPROCESSABLE_ENTITY, error.message) from error
    token = _KEY.match(key)["token"]
    filename = bytes.fromhex(head.get("Metadata", {}).get("filename", "")).decode(errors="replace")
    record = {"key": key, "owner_id": owner_id, "filename": filename, "probe": probe.as_dict()}
    media_store.client().put_object(
        Bucket=media_store.bucket(), Key=f"{CHECKED_PREFIX}{token}.json", Body=json.dumps(record).encode()
    )
    return token


def _check_object(key: str) -> ProbeResult:
    # ffprobe and ffmpeg read a presigned URL of the store (web's own endpoint), not a downloaded
    # copy: they fetch the index and the last seconds only, so a 20 GB film costs no disk on the
    # web host and its check takes well under a second (bench/upload_check_s3.py).
    url = media_store.client().generate_presigned_url(
        "get_object", Params={"Bucket": media_store.bucket(), "Key": key}, ExpiresIn=SIGNED_URL_SECONDS
    )
    return check_upload(url)


def upload_claim(*, token: str, owner_id: int) -> ClaimedBucketUpload:
    """A checked upload of the caller, for the video form to keep as its source."""
    record = media_store.object_read(f"{CHECKED_PREFIX}{token}.json") if _TOKEN.match(token or "") else None
    if record is None:
        raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND)
    record = json.loads(record)
    if record["owner_id"] != owner_id:
        raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND)
    return ClaimedBucketUpload(
        key=record["key"],
        token=token,
        filename=record["filename"] or "upload",
        probe=ProbeResult.from_dict(record["probe"]),
    )


def upload_consumed(*, claimed: ClaimedBucketUpload) -> None:
    """The video row keeps the object as its source: forget the record after the commit."""
    transaction.on_commit(partial(media_store.keys_delete, [f"{CHECKED_PREFIX}{claimed.token}.json"]))


def upload_sweep(*, now: datetime.datetime | None = None) -> int:
    """Abort multipart uploads and delete checked objects (and their records) older than
    VIDEO_UPLOAD_RESUME_HOURS that no video took. Returns how many uploads went."""
    cutoff = (now or datetime.datetime.now(datetime.UTC)) - _resume_window()
    client, bucket = media_store.client(), media_store.bucket()
    removed = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=PREFIX):
        for upload in page.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed += 1
    stale = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        stale += [item["Key"] for item in page.get("Contents", []) if item["LastModified"] < cutoff]
    taken = set(Video.objects.filter(source__in=stale).values_list("source", flat=True))
    leftovers = [key for key in stale if key not in taken]
    media_store.keys_delete(leftovers)
    return removed + sum(1 for key in leftovers if _KEY.match(key))
