from django.urls import path

from video.catalogue import views as catalogue
from video.streaming import views as streaming

urlpatterns = [
    path("video/", catalogue.VideoListView.as_view(), name="video-list"),
    path("video/continue-watching/", catalogue.ContinueWatchingView.as_view(), name="continue-watching"),
    path("video/<int:video_id>/", catalogue.VideoDetailView.as_view(), name="video-detail"),
    path("video/<int:video_id>/progress/", catalogue.WatchProgressView.as_view(), name="video-progress"),
    # Playlists and segments answer with and without a trailing slash. Names are checked in the
    # views, after authentication: a request without credentials is a 401 whatever it names,
    # and any name that is not a produced rung or a listed segment is a JSON 404. Signed segment
    # URLs are answered before Django (video.streaming.signed) or by nginx.
    path("video/<int:video_id>/master.m3u8", streaming.MasterPlaylistView.as_view(), name="master-playlist"),
    path(
        "video/<int:video_id>/master.m3u8/",
        streaming.MasterPlaylistSlashView.as_view(),
        name="master-playlist-slash",
    ),
    path(
        "video/<int:video_id>/<str:rung>/index.m3u8",
        streaming.RungPlaylistView.as_view(),
        name="rung-playlist",
    ),
    path(
        "video/<int:video_id>/<str:rung>/index.m3u8/",
        streaming.RungPlaylistSlashView.as_view(),
        name="rung-playlist-slash",
    ),
    path("video/<int:video_id>/<str:rung>/<str:segment>", streaming.SegmentView.as_view(), name="segment"),
    path(
        "video/<int:video_id>/<str:rung>/<str:segment>/",
        streaming.SegmentSlashView.as_view(),
        name="segment-slash",
    ),
]
