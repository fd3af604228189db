"""The uploader on the video add and change pages, and the form that takes a finished upload.

With JavaScript, the uploader (frontend/src/uploader.js) hides the plain Source field, uploads the
chosen file resumably and puts the finished upload's id into the hidden `upload` input; the form
then stores that checked file as the source. Without JavaScript the plain Source field works as
before and `upload` stays empty.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html

from video import media_store
from video.pipeline.uploads import VideoAdminForm
from video.uploads import bucket, services
from video.uploads.services import ClaimedUpload, UploadRefused


def _backend() -> tuple[str, str]:
    """How the browser sends the file, and where it asks: tus to this server for local storage,
    presigned multipart parts straight to the bucket for MEDIA_STORAGE=s3 (video/uploads/s3.py)."""
    if media_store.enabled():
        return "s3", reverse("admin:video_video_s3_uploads")
    return "tus", reverse("admin:video_video_uploads")


class ResumableUploadWidget(forms.Widget):
    """A hidden input for the upload id, and the element the uploader mounts on."""

    class Media:
        js = ["staff/uploader.js"]
        css = {"all": ["staff/uploader.css"]}

    def __init__(self, *, required: bool = False, attrs=None):
        super().__init__(attrs)
        self.required = required

    def render(self, name, value, attrs=None, renderer=None):
        input_id = (attrs or {}).get("id") or f"id_{name}"
        return format_html(
            '<div class="vf-upload"><input type="hidden" name="{}" id="{}" value="{}">'
            '<div class="vf-uploader" data-backend="{}" data-endpoint="{}" data-max-bytes="{}" '
            'data-input="{}" data-required="{}"></div>'
            '<p class="vf-upload-message" role="alert" hidden></p>'
            '<noscript><p class="help">The resumable uploader needs JavaScript; use the Source field '
            "above instead.</p></noscript></div>",
            name,
            input_id,
            value or "",
            *_backend(),
            services.max_upload_bytes(),
            input_id,
            "true" if self.required else "false",
        )


class ResumableVideoAdminForm(VideoAdminForm):
    """The video form with a resumable upload as an alternative to the plain Source field."""

    # Set per request by VideoAdmin.get_form: only the person who uploaded a file may use it.
    uploader_id: int | None = None
    claimed_upload: ClaimedUpload | bucket.ClaimedBucketUpload | None = None

    upload = forms.CharField(
        required=False,
        label="Upload",
        help_text=f"Resumable: survives a dropped network or a closed page for "
        f"{settings.VIDEO_UPLOAD_RESUME_HOURS} hours; choose the same file again to resume.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["upload"].widget = ResumableUploadWidget(required=self.instance.pk is None)

    def clean(self):
        cleaned_data = super().clean()
        upload_id = cleaned_data.get("upload")
        if not upload_id:
            return cleaned_data
        # The uploader replaces the plain field: its "This field is required." does not apply.
        self.errors.pop("source", None)
        try:
            if media_store.enabled():
                claimed = bucket.upload_claim(token=upload_id, owner_id=self.uploader_id)
            else:
                claimed = services.upload_claim(upload_id=upload_id, owner_id=self.uploader_id)
        except UploadRefused as error:
            self.add_error("upload", error.message)
            return cleaned_data
        except media_store.StoreError as error:
            self.add_error("upload", str(media_store.StoreUnavailable(error)))
            return cleaned_data
        self.claimed_upload = claimed
        self.probe_result = claimed.probe
        if isinstance(claimed, bucket.ClaimedBucketUpload):
            # The object is already in the bucket: the row names it, nothing is stored again.
            cleaned_data["source"] = claimed.key
            self.instance.original_filename = claimed.filename[:255]
        else:
            cleaned_data["source"] = claimed.file
        return cleaned_data
