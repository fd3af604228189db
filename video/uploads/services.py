"""What happens to a resumable upload: created within the size limit, appended to in order,
checked like a plain upload when its last byte arrives, taken by the video form, or swept away
once abandoned. Refusals carry a sentence for staff and an HTTP status for the protocol.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus

from django.conf import settings
from django.core.files import File
from django.db import transaction

from video.pipeline.ffmpeg.probe import ProbeResult, check_upload
from video.pipeline.ffmpeg.process import ProbeError
from video.uploads import store
from video.uploads.store import State, Upload

logger = logging.getLogger(__name__)

# Bytes read from the request and written to disk at a time: the web process's memory stays flat
# whatever the size of the upload.
COPY_CHUNK_BYTES = 1024 * 1024
NOT_FOUND = "This upload does not exist; please choose the file again."


class UploadRefused(Exception):
    """The request cannot be honoured; `message` is a sentence for staff."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def max_upload_bytes() -> int:
    return settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024


def too_large(length: int) -> UploadRefused:
    return UploadRefused(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"This file is {length / 1024 / 1024:.0f} MB; the largest upload allowed is "
        f"{settings.VIDEO_MAX_UPLOAD_MB} MB.",
    )


def upload_create(*, owner_id: int, length: int, metadata: dict[str, str]) -> Upload:
    """Start an upload of `length` bytes; refused when it is empty or larger than the limit."""
    if length > max_upload_bytes():
        raise too_large(length)
    if length == 0:
        raise UploadRefused(HTTPStatus.BAD_REQUEST, "The file is empty.")
    filename = os.path.basename(metadata.get("filename") or metadata.get("name") or "upload")[:255]
    return store.create(owner_id=owner_id, length=length, filename=filename, metadata=metadata)


def upload_find(*, upload_id: str, owner_id: int) -> Upload:
    """The caller's own upload; an expired one is removed. Another person's upload is not found."""
    upload = store.get(upload_id)
    if upload is None or upload.owner_id != owner_id:
        raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND)
    if upload.is_expired():
        store.remove(upload)
        raise UploadRefused(HTTPStatus.GONE, "This upload has expired; please choose the file again.")
    return upload


def upload_receive(*, upload: Upload, stream, offset: int, content_length: int) -> Upload:
    """Append up to `content_length` bytes from `stream` at `offset` (which must be the upload's
    current offset); once the last byte is in, run the upload checks. A connection that drops
    keeps what arrived, so the client resumes from there."""
    with _locked(upload) as part:
        upload = store.get(upload.id)  # as it is now that no other writer can change it
        if upload is None:
            raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND)
        if upload.state != State.RECEIVING:
            raise UploadRefused(HTTPStatus.CONFLICT, "This upload is already complete.")
        if offset != upload.offset:
            raise UploadRefused(
                HTTPStatus.CONFLICT, f"The upload is at byte {upload.offset}, not at byte {offset}."
            )
        if offset + content_length > upload.length:
            raise too_large(offset + content_length)
        _copy(stream, part, content_length)
        # Still under the lock: termination and the sweep take it too, so none ran meanwhile.
        upload = store.update(upload, expires_at=store.expiry())
        if upload.offset == upload.length:
            upload = _finish(upload)
    return upload


@contextlib.contextmanager
def _locked(upload: Upload):
    try:
        with store.appending(upload) as part:
            yield part
    except FileNotFoundError as error:  # terminated or swept a moment ago
        raise UploadRefused(HTTPStatus.NOT_FOUND, NOT_FOUND) from error


def _copy(stream, part, content_length: int) -> None:
    remaining = content_length
    try:
        while remaining > 0:
            data = stream.read(min(COPY_CHUNK_BYTES, remaining))
            if not data:
                break  # the client went away; what arrived is kept
            part.write(data)
            remaining -= len(data)
    except OSError:
        # The connection broke mid-read (the page was closed, the network dropped): keep the bytes
        # that arrived, which HEAD then reports as the offset to resume from.
        logger.info("An upload's connection ended with %d of %d bytes unread", remaining, content_length)
    finally:
        part.flush()


def _finish(upload: Upload) -> Upload:
    """The checks of a plain upload (ffprobe, a decode of the end) on the assembled file; a
    refused upload is removed at once."""
    try:
        result = check_upload(upload.part_path)
    except ProbeError as error:
        store.remove(upload)
        raise UploadRefused(HTTPStatus.UNPROCESSABLE_ENTITY, error.message) from error
    return store.update(upload, state=State.ACCEPTED, probe=result.as_dict())


def upload_delete(*, upload: Upload) -> None:
    """Termination: remove the upload; UploadBusy while a request still writes to it."""
    with contextlib.suppress(FileNotFoundError), store.appending(upload):
        store.remove(upload)


class UploadedSourceFile(File):
    """The assembled file under its original name. It has a temporary_file_path, as Django's own
    uploads do, so the file system storage moves it instead of copying it."""

    def __init__(self, upload: Upload):
        super().__init__(open(upload.part_path, "rb"), name=upload.filename)  # noqa: SIM115 - see upload_consumed
        self.size = upload.length

    def temporary_file_path(self) -> str:
        return self.file.name


@dataclass(frozen=True)
class ClaimedUpload:
    upload: Upload
    probe: ProbeResult
    file: UploadedSourceFile


def upload_claim(*, upload_id: str, owner_id: int) -> ClaimedUpload:
    """A finished, accepted upload of the caller, for a video form to store as its source."""
    upload = upload_find(upload_id=upload_id, owner_id=owner_id)
    if upload.state != State.ACCEPTED:
        raise UploadRefused(HTTPStatus.CONFLICT, "The upload has not finished yet; wait for it to complete.")
    return ClaimedUpload(
        upload=upload, probe=ProbeResult.from_dict(upload.probe), file=UploadedSourceFile(upload)
    )


def upload_consumed(*, claimed: ClaimedUpload) -> None:
    """The video row that took this upload is saved (its file is in storage now): close the file
    and forget the upload after the commit."""
    claimed.file.close()
    transaction.on_commit(partial(store.remove, claimed.upload))


def upload_sweep(*, now: float | None = None) -> int:
    """Remove uploads not written to for VIDEO_UPLOAD_RESUME_HOURS, and stray files of the store.
    Returns how many uploads were removed."""
    now = time.time() if now is None else now
    removed = 0
    for upload in store.all_uploads():
        if not upload.is_expired(now):
            continue
        try:
            upload_delete(upload=upload)
        except store.UploadBusy:
            continue  # a request is writing to it right now: not abandoned
        removed += 1
    for path in store.orphans(older_than=now - 3600):
        path.unlink(missing_ok=True)
    return removed
