"""The admin's video form: the upload is checked with ffprobe before anything is saved."""

from __future__ import annotations

import os
import tempfile

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from video import ffmpeg
from video.models import Video


def _check_video_file(path: str) -> ffmpeg.ProbeResult:
    result = ffmpeg.probe(path)
    ffmpeg.check_decodable_end(path, result.duration)
    return result


class VideoAdminForm(forms.ModelForm):
    # Set per request by VideoAdmin.get_form: {field name: file name} of uploads that passed the
    # size limit and were dropped while the request was read (video.uploads).
    oversized_uploads: dict = {}

    class Meta:
        model = Video
        fields = ["title", "description", "category", "thumbnail", "source"]

    def clean(self):
        cleaned_data = super().clean()
        if "source" in self.oversized_uploads:
            # Replaces "This field is required." on a new video; on an edit the old source would
            # otherwise be kept silently.
            self.errors.pop("source", None)
            self.add_error("source", self._too_large_message())
        return cleaned_data

    def _too_large_message(self, size: int | None = None) -> forms.ValidationError:
        limit_mb = settings.VIDEO_MAX_UPLOAD_MB
        size_text = f"This file is {size / 1024 / 1024:.0f} MB; " if size else "This file is too large; "
        return forms.ValidationError(
            f"{size_text}the largest upload allowed is {limit_mb} MB.", code="too_large"
        )

    def clean_source(self):
        source = self.cleaned_data.get("source")
        if not isinstance(source, UploadedFile):
            return source  # unchanged on an edit
        if source.size is not None and source.size > settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024:
            raise self._too_large_message(source.size)
        if not source.size:
            raise forms.ValidationError("The file is empty.", code="empty")
        try:
            if hasattr(source, "temporary_file_path"):
                self.probe_result = _check_video_file(source.temporary_file_path())
            else:
                # Small uploads arrive in memory; ffprobe needs a path.
                with tempfile.NamedTemporaryFile(suffix=os.path.splitext(source.name)[1][:10]) as copy:
                    for chunk in source.chunks():
                        copy.write(chunk)
                    copy.flush()
                    self.probe_result = _check_video_file(copy.name)
                source.seek(0)
        except ffmpeg.ProbeError as error:
            raise forms.ValidationError(error.message, code="not_a_video") from error
        return source
