"""The object store behind MEDIA_STORAGE=s3: its boto3 clients, reading, signing, deleting, and
uploading a folder while ffmpeg still writes into it.

Django's default storage (django-storages' S3Storage) stores sources and thumbnails; this module
reuses its client and settings for what a Storage does not offer: parallel multipart transfers,
deleting a prefix, and URLs signed for the host viewers reach the store through. Nothing here
knows about rows; names of keys come from video.layout.
"""

from __future__ import annotations

import functools
import logging
import math
import mimetypes
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import default_storage

from video import layout

logger = logging.getLogger(__name__)

# Objects above the threshold go up (and down) in parts, several at a time.
TRANSFER = TransferConfig(
    multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4
)
UPLOAD_THREADS = 4
WATCH_INTERVAL = 0.25  # seconds between looks at the work folder while ffmpeg writes it
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
# What the store failing looks like: unreachable, refusing, or answering an error.
StoreError = (BotoCoreError, ClientError)


class StoreUnavailable(Exception):
    """The object store did not answer or refused; the sentence is for staff."""

    def __init__(self, error: Exception):
        super().__init__(
            "The media store is not reachable or refused the request, so nothing was saved; "
            f"try again in a moment. ({type(error).__name__}: {error})"
        )


def enabled() -> bool:
    return settings.MEDIA_STORAGE == "s3"


def bucket() -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def client():
    """The boto3 S3 client of Django's default storage (thread-safe, shared by the pool); in local
    mode (`manage.py media_to_s3` moving a library) one of an S3Storage on the AWS_* settings."""
    if enabled():
        return default_storage.connection.meta.client
    return _bucket_storage(
        settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_S3_ENDPOINT_URL
    ).connection.meta.client


@functools.cache
def _bucket_storage(bucket_name: str, endpoint: str | None):
    from storages.backends.s3 import S3Storage

    return S3Storage()


def public_endpoint() -> str:
    """Where viewers reach the store: AWS_S3_CUSTOM_DOMAIN (a front passing Host, path and query
    on to the store) or the store's own endpoint."""
    if settings.AWS_S3_CUSTOM_DOMAIN:
        return f"{settings.AWS_S3_URL_PROTOCOL}//{settings.AWS_S3_CUSTOM_DOMAIN}"
    return settings.AWS_S3_ENDPOINT_URL or f"https://s3.{settings.AWS_S3_REGION_NAME}.amazonaws.com"


@functools.cache
def _signing_client(endpoint: str, region: str, key_id: str, secret: str, addressing: str):
    # Signing is local arithmetic: this client never connects anywhere.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
        config=Config(signature_version="s3v4", s3={"addressing_style": addressing}),
    )


def signed_url(key: str, *, expires_in: int) -> str:
    """A GET URL of the object for viewers, valid `expires_in` seconds (SigV4 signs the host of
    public_endpoint(), so a front must pass the Host header through unchanged)."""
    return presigned_url("get_object", params={"Key": key}, expires_in=expires_in)


def presigned_url(operation: str, *, params: dict, expires_in: int) -> str:
    """A URL of the store, as browsers reach it, for one S3 operation on this bucket (the staff
    uploader's multipart requests)."""
    signer = _signing_client(
        public_endpoint(),
        settings.AWS_S3_REGION_NAME,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
        settings.AWS_S3_ADDRESSING_STYLE,
    )
    return signer.generate_presigned_url(
        operation, Params={"Bucket": bucket(), **params}, ExpiresIn=expires_in
    )


def object_read(key: str) -> bytes | None:
    """The object's bytes, or None when there is no such object."""
    try:
        return client().get_object(Bucket=bucket(), Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def object_size(key: str) -> int | None:
    try:
        return client().head_object(Bucket=bucket(), Key=key)["ContentLength"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def file_download(key: str, destination: Path) -> None:
    client().download_file(bucket(), key, str(destination), Config=TRANSFER)


def file_upload(path: Path, key: str, *, growing: bool = False) -> None:
    """Upload a file (in parallel parts when it is large) with the content type and caching of its
    kind; an HLS object never changes under its key, so browsers may keep it, except a playlist
    that is still `growing` (a version being published while it is encoded)."""
    if layout.is_segment_name(path.name) or path.suffix == ".m3u8":
        content_type = layout.hls_content_type(path.name)
    else:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    cache_control = "private, no-cache" if growing else f"private, max-age={settings.HLS_CACHE_MAX_AGE}"
    extra = {"ContentType": content_type, "CacheControl": cache_control}
    client().upload_file(str(path), bucket(), key, ExtraArgs=extra, Config=TRANSFER)


def keys_info(prefix: str) -> dict[str, tuple[int, float]]:
    """Every key below `prefix`, in key order, with its size in bytes and when it was last written
    (seconds since the epoch): one listing request per 1,000 keys, no request per object."""
    found = {}
    for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket(), Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = (item["Size"], item["LastModified"].timestamp())
    return found


def keys_with_sizes(prefix: str) -> dict[str, int]:
    """Every key below `prefix` with its size in bytes, in key order."""
    return {key: size for key, (size, _) in keys_info(prefix).items()}


def keys_list(prefix: str) -> list[str]:
    return list(keys_with_sizes(prefix))


def keys_delete(keys: Iterable[str]) -> int:
    keys = list(keys)
    for start in range(0, len(keys), DELETE_BATCH):
        batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
        client().delete_objects(Bucket=bucket(), Delete={"Objects": batch, "Quiet": True})
    return len(keys)


def prefix_delete(prefix: str, *, keep: Callable[[str], bool] | None = None) -> int:
    """Delete every object below `prefix` (except those `keep` says to keep); return how many."""
    return keys_delete(key for key in keys_list(prefix) if not (keep and keep(key)))


class FolderUploader:
    """Uploads a work folder's files below a key prefix, segments while ffmpeg still encodes.

    Use as a context manager around the encode: a watcher thread uploads each segment ffmpeg has
    finished (layout.finished_segments) on a small thread pool. `finish()`, after the encode,
    uploads the rest and then the playlists, each only after everything it lists is stored, and
    raises the first upload error. Leaving the block early stops the watcher and waits for the
    uploads in flight, so no thread outlives the job.
    """

    def __init__(self, folder: Path, prefix: str, *, threads: int = UPLOAD_THREADS):
        self.folder, self.prefix = folder, prefix
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hls-upload")
        self.sent: dict[Path, Future] = {}
        self.sizes: dict[Path, int] = {}
        self.stopped = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="hls-watch", daemon=True)

    def __enter__(self):
        self.watcher.start()
        return self

    def __exit__(self, *exc_info):
        self._stop_watching()
        for future in self.sent.values():
            future.cancel()
        self.pool.shutdown(wait=True)

    def upload(self, path: Path) -> Future:
        """Queue one file of the folder (once); its key is the prefix plus its relative path."""
        if path not in self.sent:
            key = self.prefix + path.relative_to(self.folder).as_posix()
            self.sizes[path] = path.stat().st_size
            self.sent[path] = self.pool.submit(file_upload, path, key)
        return self.sent[path]

    def adopt(self, paths: Iterable[Path]) -> None:
        """Count these files of the folder as stored already (a run that continues, on another
        machine, a version whose segments are in the bucket but not on this disk)."""
        for path in paths:
            done: Future = Future()
            done.set_result(None)
            self.sent.setdefault(path, done)

    def finish(self) -> int:
        """Upload what is left, playlists last; return how many files the folder had."""
        self._stop_watching()
        segments, playlists = layout.output_files(self.folder)
        self._wait([self.upload(path) for path in segments])
        # A safety net for the "finished" rule: a file that grew after its upload began goes again.
        changed = [
            path for path in segments if path in self.sizes and path.stat().st_size != self.sizes[path]
        ]
        for path in changed:
            logger.warning("%s changed after its upload started; uploading it again", path)
            self.sent.pop(path)
        self._wait([self.upload(path) for path in changed])
        for playlist in playlists:  # rung playlists, then the master playlist that lists them
            self._wait([self.upload(playlist)])
        return len(segments) + len(playlists)

    def _watch(self) -> None:
        while not self.stopped.wait(WATCH_INTERVAL):
            try:
                for path in layout.finished_segments(self.folder):
                    self.upload(path)
            except OSError:  # the folder is being set up or removed; look again
                continue

    def _stop_watching(self) -> None:
        self.stopped.set()
        if self.watcher.is_alive():
            self.watcher.join()

    @staticmethod
    def _wait(futures: list[Future]) -> None:
        for future in futures:
            future.result()


# --- Setting the bucket up (manage.py storage_setup) -----------------------------------------


def abort_uploads_after_days() -> int:
    """Whole days after which the bucket aborts an unfinished multipart upload: at least one, and
    never before a staff upload may still be resumed (VIDEO_UPLOAD_RESUME_HOURS)."""
    return max(1, math.ceil(settings.VIDEO_UPLOAD_RESUME_HOURS / 24))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def bucket_create_if_missing() -> bool:
    """Create the bucket unless it exists; True when it was created."""
    try:
        client().head_bucket(Bucket=bucket())
        return False
    except ClientError as error:
        if error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    client().create_bucket(Bucket=bucket())
    return True


def bucket_cors_set(*, origins: list[str], upload_origins: list[str] = ()) -> None:
    """Let the SPA's origins read objects (a store that also sends Allow-Credentials needs no
    front), and the admin's origins send a staff upload's multipart requests (the uploader reads
    each part's ETag)."""
    rules = []
    if origins:
        rules.append(
            {
                "AllowedOrigins": list(origins),
                "AllowedMethods": ["GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["Content-Length", "Content-Range"],
                "MaxAgeSeconds": 3600,
            }
        )
    if upload_origins:
        rules.append(
            {
                "AllowedOrigins": list(upload_origins),
                "AllowedMethods": ["GET", "PUT", "POST", "DELETE"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
        )
    client().put_bucket_cors(Bucket=bucket(), CORSConfiguration={"CORSRules": rules})


def bucket_lifecycle_set() -> bool:
    """A rule that aborts multipart uploads left unfinished (a worker killed mid-upload); False
    when the store has no lifecycle rules (then `multipart_uploads_abort_stale` does the job)."""
    rule = {
        "ID": "videoflix-abort-abandoned-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_uploads_after_days()},
    }
    try:
        client().put_bucket_lifecycle_configuration(Bucket=bucket(), LifecycleConfiguration={"Rules": [rule]})
    except ClientError as error:
        if error_code(error) in ("NotImplemented", "MalformedXML", "InvalidRequest"):
            return False
        raise
    return True


def multipart_uploads_abort_stale(*, older_than_seconds: float) -> int:
    """Abort unfinished multipart uploads started more than `older_than_seconds` ago."""
    import datetime

    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=older_than_seconds)
    aborted = 0
    for page in client().get_paginator("list_multipart_uploads").paginate(Bucket=bucket()):
        for upload in page.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                client().abort_multipart_upload(
                    Bucket=bucket(), Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted += 1
    return aborted


def bucket_is_private() -> bool:
    """Does the store refuse a listing and a read without a signature?"""
    import botocore

    anonymous = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name=settings.AWS_S3_REGION_NAME,
        config=Config(
            signature_version=botocore.UNSIGNED, s3={"addressing_style": settings.AWS_S3_ADDRESSING_STYLE}
        ),
    )
    try:
        anonymous.list_objects_v2(Bucket=bucket(), MaxKeys=1)
    except ClientError as error:
        return error_code(error) in ("AccessDenied", "403", "InvalidAccessKeyId", "AllAccessDisabled")
    return False


def object_put(key: str, data: bytes) -> None:
    client().put_object(Bucket=bucket(), Key=key, Body=data)
