"""The staff URLs under the video model's admin (VideoAdmin.get_urls)."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.urls import path

from video.staff import views
from video.uploads import s3, tus


def staff_urls(model_admin) -> list:
    """Session views behind admin_view (staff only, redirect to the login page otherwise); the tus
    endpoints check staff themselves and answer 403, as a protocol client expects."""

    def wrap(view, permission):
        @wraps(view)
        def allowed(request, *args, **kwargs):
            if not permission(request):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return model_admin.admin_site.admin_view(allowed)

    can_view, can_change = model_admin.has_view_permission, model_admin.has_change_permission
    return [
        path("status/", wrap(views.video_status, can_view), name="video_video_status"),
        path("uploads/s3/", s3.upload_start, name="video_video_s3_uploads"),
        path("uploads/s3/sign", s3.upload_sign, name="video_video_s3_upload_sign"),
        path("uploads/s3/check", s3.upload_check, name="video_video_s3_upload_check"),
        path("uploads/", tus.uploads, name="video_video_uploads"),
        path("uploads/<str:upload_id>", tus.upload, name="video_video_upload"),
        path(
            "<int:video_id>/transcode-again/",
            wrap(views.video_transcode_again, can_change),
            name="video_video_transcode_again",
        ),
        path(
            "<int:video_id>/preview/master.m3u8",
            wrap(views.preview_master, can_view),
            name="video_video_preview",
        ),
        path(
            "<int:video_id>/preview/<str:rung>/index.m3u8",
            wrap(views.preview_rung, can_view),
            name="video_video_preview_rung",
        ),
    ]
