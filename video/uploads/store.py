"""The local upload store: one resumable upload is two files in VIDEO_UPLOAD_DIR.

    <id>.part   the bytes received so far, appended in order (its size is the upload's offset)
    <id>.json   who created it, its announced length, file name, state, expiry and, once the
                checks passed, what ffprobe read of it

The folder lies outside MEDIA_ROOT so nothing half-uploaded can ever be served or mistaken for a
source. Writers hold an exclusive, non-blocking lock on the part file, so two requests can never
append to one upload at once; the JSON file is replaced atomically (write, then rename).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from django.conf import settings

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class UploadBusy(Exception):
    """Another request is writing to this upload."""


class State:
    RECEIVING = "receiving"
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class Upload:
    id: str
    owner_id: int
    length: int
    filename: str
    expires_at: float
    state: str = State.RECEIVING
    metadata: dict = field(default_factory=dict)
    probe: dict | None = None

    @property
    def part_path(self) -> Path:
        return upload_dir() / f"{self.id}.part"

    @property
    def info_path(self) -> Path:
        return upload_dir() / f"{self.id}.json"

    @property
    def offset(self) -> int:
        try:
            return self.part_path.stat().st_size
        except FileNotFoundError:
            return 0

    def is_expired(self, now: float | None = None) -> bool:
        return self.expires_at <= (time.time() if now is None else now)


def upload_dir() -> Path:
    return Path(settings.VIDEO_UPLOAD_DIR)


def expiry(now: float | None = None) -> float:
    """An upload not written to for VIDEO_UPLOAD_RESUME_HOURS is abandoned."""
    return (time.time() if now is None else now) + settings.VIDEO_UPLOAD_RESUME_HOURS * 3600


def create(*, owner_id: int, length: int, filename: str, metadata: dict) -> Upload:
    upload_dir().mkdir(parents=True, exist_ok=True)
    upload = Upload(
        id=uuid.uuid4().hex,
        owner_id=owner_id,
        length=length,
        filename=filename,
        expires_at=expiry(),
        metadata=metadata,
    )
    upload.part_path.touch(exist_ok=False)
    save(upload)
    return upload


def get(upload_id: str) -> Upload | None:
    """The upload with this id, or None when the id is malformed or nothing is stored under it."""
    if not UPLOAD_ID.fullmatch(upload_id or ""):
        return None
    try:
        values = json.loads((upload_dir() / f"{upload_id}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return Upload(**values)


def save(upload: Upload) -> Upload:
    temporary = upload.info_path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(json.dumps(asdict(upload)))
    os.replace(temporary, upload.info_path)
    return upload


def update(upload: Upload, **changes) -> Upload:
    return save(replace(upload, **changes))


@contextlib.contextmanager
def appending(upload: Upload) -> Iterator[object]:
    """The part file open for appending, locked against every other writer (UploadBusy if taken).
    FileNotFoundError when the upload was removed: a removed part file is never created again."""
    with os.fdopen(os.open(upload.part_path, os.O_WRONLY | os.O_APPEND), "ab") as part:
        try:
            fcntl.flock(part, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise UploadBusy(upload.id) from error
        yield part


def remove(upload: Upload) -> None:
    for path in (upload.part_path, upload.info_path):
        path.unlink(missing_ok=True)


def all_uploads() -> Iterator[Upload]:
    folder = upload_dir()
    if not folder.is_dir():
        return
    for info in folder.glob("*.json"):
        upload = get(info.stem)
        if upload is not None:
            yield upload


def orphans(older_than: float) -> Iterator[Path]:
    """Files of the store that belong to no upload (a crash between two writes), older than a time."""
    folder = upload_dir()
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        stem = path.name.split(".", 1)[0]
        belongs = path.suffix in (".part", ".json") and (folder / f"{stem}.json").exists()
        if not belongs and path.stat().st_mtime < older_than:
            yield path
