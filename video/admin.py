from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from video.models import Category, Video
from video.pipeline import services
from video.pipeline.uploads import OVERSIZED_ATTRIBUTE
from video.staff.selectors import video_rung_summaries
from video.staff.urls import staff_urls
from video.uploads import bucket
from video.uploads.forms import ResumableVideoAdminForm
from video.uploads.services import upload_consumed


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        services.category_save(category=obj)

    def delete_model(self, request, obj):
        services.category_delete(category=obj)

    def delete_queryset(self, request, queryset):
        for category in queryset:
            services.category_delete(category=category)


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    form = ResumableVideoAdminForm
    list_display = [
        "title",
        "category",
        "status",
        "playable",
        "progress_display",
        "duration_display",
        "rungs_display",
        "created_at",
    ]
    list_filter = ["status", "playable", "category"]
    search_fields = ["title", "description", "original_filename"]
    autocomplete_fields = ["category"]
    actions = ["transcode_again", "mark_failed"]
    readonly_fields = [
        "status",
        "playable",
        "progress",
        "error_display",
        "duration",
        "source_width",
        "source_height",
        "rungs",
        "original_filename",
        "job_id",
        "attempts",
        "transcoded_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["title", "description", "category", "thumbnail", "source", "upload"]}),
        (
            "Transcoding",
            {
                "fields": [
                    "status",
                    "playable",
                    "progress",
                    "error_display",
                    "duration",
                    ("source_width", "source_height"),
                    "rungs",
                    "original_filename",
                    "job_id",
                    "attempts",
                    "transcoded_at",
                    ("created_at", "updated_at"),
                ]
            },
        ),
    ]

    @admin.display(description="Progress", ordering="progress")
    def progress_display(self, video):
        return f"{video.progress}%"

    @admin.display(description="Duration", ordering="duration")
    def duration_display(self, video):
        if video.duration is None:
            return "-"
        minutes, seconds = divmod(round(video.duration), 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="Rungs")
    def rungs_display(self, video):
        return ", ".join(video.rungs or []) or "-"

    @admin.display(description="Error")
    def error_display(self, video):
        if not video.error:
            return "-"
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', video.error)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        per_request = {"uploader_id": request.user.pk}
        oversized = getattr(request, OVERSIZED_ATTRIBUTE, None)
        if oversized:
            per_request["oversized_uploads"] = dict(oversized)
        return type(form.__name__, (form,), per_request)

    def get_urls(self):
        return staff_urls(self) + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        video = self.get_object(request, object_id)
        playable = video is not None and video.playable and bool(video.rungs)
        preview_rungs = video_rung_summaries(video=video) if playable else []
        extra_context = {**(extra_context or {}), "preview_rungs": preview_rungs}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        services.video_save(video=obj, probe=form.probe_result)
        if isinstance(form.claimed_upload, bucket.ClaimedBucketUpload):
            bucket.upload_consumed(claimed=form.claimed_upload)
        elif form.claimed_upload:
            upload_consumed(claimed=form.claimed_upload)

    def delete_model(self, request, obj):
        services.video_delete(video=obj)

    def delete_queryset(self, request, queryset):
        for video in queryset:
            services.video_delete(video=video)

    @admin.action(description="Transcode again")
    def transcode_again(self, request, queryset):
        with transaction.atomic():
            for video in queryset.select_for_update():
                services.video_enqueue_transcode(video=video)
        self.message_user(request, f"Queued {queryset.count()} video(s) for transcoding.", messages.SUCCESS)

    @admin.action(description="Mark failed")
    def mark_failed(self, request, queryset):
        count = 0
        for video in queryset:
            count += services.video_mark_failed(
                video_id=video.pk, reason=f"Marked failed by {request.user} in the admin.", detach_job=True
            )
        self.message_user(request, f"Marked {count} video(s) failed.", messages.WARNING)
