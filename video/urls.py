from django.urls import path

from video.catalogue import views as catalogue
from video.streaming import views as streaming


def with_and_without_slash(route: str, view, slash_view, name: str) -> list:
    """Playlists and segments answer with and without a trailing slash (distinct view classes keep
    the OpenAPI operation ids unique)."""
    return [
        path(route, view.as_view(), name=name),
        path(f"{route}/", slash_view.as_view(), name=f"{name}-slash"),
    ]


urlpatterns = [
    path("video/", catalogue.VideoListView.as_view(), name="video-list"),
    path("video/continue-watching/", catalogue.ContinueWatchingView.as_view(), name="continue-watching"),
    path("video/<int:video_id>/", catalogue.VideoDetailView.as_view(), name="video-detail"),
    path("video/<int:video_id>/progress/", catalogue.WatchProgressView.as_view(), name="video-progress"),
    # Names are checked in the views, after authentication: a request without credentials is a
    # 401 whatever it names, and any name that is not a produced rung or a listed segment is a
    # JSON 404. Signed segment URLs are answered before Django (video.streaming.signed) or by nginx.
    *with_and_without_slash(
        "video/<int:video_id>/master.m3u8",
        streaming.MasterPlaylistView,
        streaming.MasterPlaylistSlashView,
        "master-playlist",
    ),
    *with_and_without_slash(
        "video/<int:video_id>/<str:rung>/index.m3u8",
        streaming.RungPlaylistView,
        streaming.RungPlaylistSlashView,
        "rung-playlist",
    ),
    *with_and_without_slash(
        "video/<int:video_id>/<str:rung>/<str:segment>",
        streaming.SegmentView,
        streaming.SegmentSlashView,
        "segment",
    ),
]
