import os
import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from video.pipeline.ffmpeg.process import CONTAINERS


def source_upload_to(instance, filename: str) -> str:
    """Sources are stored under a random name and the detected container's extension (none when
    the source was not checked); the original name is kept on the row only."""
    container = (instance.source_probe or {}).get("container", "")
    return f"sources/{uuid.uuid4().hex}{CONTAINERS.get(container, '')}"


def thumbnail_upload_to(instance, filename: str) -> str:
    extension = os.path.splitext(filename)[1].lower()[:10] or ".jpg"
    return f"thumbnails/{uuid.uuid4().hex}{extension}"


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="category_name_unique_case_insensitive"),
        ]

    def __str__(self):
        return self.name


class Video(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="videos")
    thumbnail = models.ImageField(upload_to=thumbnail_upload_to, blank=True)
    source = models.FileField(upload_to=source_upload_to, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What the pipeline learns and does.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Transcoding progress in percent.")
    error = models.TextField(blank=True, help_text="Why the last transcode failed, with ffmpeg's last lines.")
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    source_width = models.PositiveIntegerField(null=True, blank=True)
    source_height = models.PositiveIntegerField(null=True, blank=True)
    playable = models.BooleanField(
        default=False,
        help_text="In the catalogue: its rungs can be watched (while the transcode still runs, too).",
    )
    rungs = models.JSONField(
        default=list, blank=True, help_text='Rungs viewers can watch, e.g. ["360p", "480p"].'
    )
    source_probe = models.JSONField(
        null=True, blank=True, help_text="What the upload check read from the source (ffprobe)."
    )
    job_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    transcoded_at = models.DateTimeField(null=True, blank=True)
    hls_version = models.CharField(
        max_length=32,
        blank=True,
        help_text="With MEDIA_STORAGE=s3, the bucket prefix of the published HLS set (video.layout).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="video_status_created"),
            models.Index(fields=["playable", "-created_at"], name="video_playable_created"),
        ]

    def __str__(self):
        return self.title


class WatchProgress(models.Model):
    """Where a user stopped watching a video."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watch_progress"
    )
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="watch_progress")
    position_seconds = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name_plural = "watch progress"
        constraints = [
            models.UniqueConstraint(fields=["user", "video"], name="watch_progress_unique_user_video")
        ]

    def __str__(self):
        return f"{self.user} at {self.position_seconds:.0f}s of {self.video}"
