"""Staff uploads: a size limit applied while the request is read, and the admin form that checks
the file with ffprobe (once) before anything is saved.

The upload handler runs before Django's own handlers: chunks of an oversized file are dropped
instead of being written to the temporary file (which is closed and deleted), the rest of the
request is read as usual, and the form then refuses the upload with a sentence.

With MEDIA_STORAGE=s3 the form also stores the checked files in the bucket (streamed from the
temporary file in parts), so an unreachable store is a sentence on the form, not a server error,
and a refused upload never reaches the bucket.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from video import media_store
from video.models import Video
from video.pipeline.ffmpeg.probe import ProbeResult, check_upload
from video.pipeline.ffmpeg.process import ProbeError

OVERSIZED_ATTRIBUTE = "oversized_uploads"


class SizeLimitUploadHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024:
            oversized = getattr(self.request, OVERSIZED_ATTRIBUTE, None)
            if oversized is None:
                oversized = {}
                setattr(self.request, OVERSIZED_ATTRIBUTE, oversized)
            oversized[self.field_name] = self.file_name
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler stores the file


def too_large_error(size: int | None = None) -> forms.ValidationError:
    size_text = f"This file is {size / 1024 / 1024:.0f} MB; " if size else "This file is too large; "
    return forms.ValidationError(
        f"{size_text}the largest upload allowed is {settings.VIDEO_MAX_UPLOAD_MB} MB.", code="too_large"
    )


class VideoAdminForm(forms.ModelForm):
    # Set per request by VideoAdmin.get_form: {field name: file name} of uploads that passed the
    # size limit and were dropped while the request was read.
    oversized_uploads: dict = {}
    # What the check learnt of a new source; the service stores it for the worker.
    probe_result: ProbeResult | None = None

    class Meta:
        model = Video
        fields = ["title", "description", "category", "thumbnail", "source"]

    def clean(self):
        cleaned_data = super().clean()
        if "source" in self.oversized_uploads:
            # Replaces "This field is required." on a new video; on an edit the old source would
            # otherwise be kept silently.
            self.errors.pop("source", None)
            self.add_error("source", too_large_error())
        return cleaned_data

    def _post_clean(self):
        super()._post_clean()
        if not self.errors and media_store.enabled():
            self._store_new_files()

    def _store_new_files(self) -> None:
        """Store the new source and thumbnail now; on a store error, remove what was stored."""
        video, stored = self.instance, []
        if self.probe_result is not None:  # names the stored source after the detected container
            video.source_probe = self.probe_result.as_dict()
        for name in ("source", "thumbnail"):
            file = getattr(video, name)
            if not file or getattr(file, "_committed", True):
                continue
            if name == "source":
                video.original_filename = os.path.basename(file.name)[:255]
            try:
                file.save(file.name, file.file, save=False)
            except media_store.StoreError as error:
                self.add_error(name, str(media_store.StoreUnavailable(error)))
                for stored_file in stored:
                    with contextlib.suppress(*media_store.StoreError):
                        stored_file.delete(save=False)
                return
            stored.append(file)

    def clean_source(self):
        source = self.cleaned_data.get("source")
        if not isinstance(source, UploadedFile):
            return source  # unchanged on an edit
        if source.size is not None and source.size > settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024:
            raise too_large_error(source.size)
        if not source.size:
            raise forms.ValidationError("The file is empty.", code="empty")
        try:
            self.probe_result = _check(source)
        except ProbeError as error:
            raise forms.ValidationError(error.message, code="not_a_video") from error
        return source


def _check(source: UploadedFile) -> ProbeResult:
    if hasattr(source, "temporary_file_path"):
        return check_upload(source.temporary_file_path())
    # Small uploads arrive in memory; ffprobe needs a path.
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(source.name)[1][:10]) as copy:
        for chunk in source.chunks():
            copy.write(chunk)
        copy.flush()
        result = check_upload(copy.name)
    source.seek(0)
    return result
