from django.urls import path

from video import views

urlpatterns = [
    path("video/", views.VideoListView.as_view(), name="video-list"),
    path("video/continue-watching/", views.ContinueWatchingView.as_view(), name="continue-watching"),
    path("video/<int:video_id>/", views.VideoDetailView.as_view(), name="video-detail"),
    path("video/<int:video_id>/progress/", views.WatchProgressView.as_view(), name="video-progress"),
    # Playlists and segments answer with and without a trailing slash. Names are checked in the
    # views, after authentication: a request without credentials is a 401 whatever it names,
    # and any name that is not a produced rung or a listed segment is a JSON 404.
    path("video/<int:video_id>/master.m3u8", views.MasterPlaylistView.as_view(), name="master-playlist"),
    path(
        "video/<int:video_id>/master.m3u8/",
        views.MasterPlaylistSlashView.as_view(),
        name="master-playlist-slash",
    ),
    path(
        "video/<int:video_id>/<str:resolution>/index.m3u8",
        views.RungPlaylistView.as_view(),
        name="rung-playlist",
    ),
    path(
        "video/<int:video_id>/<str:resolution>/index.m3u8/",
        views.RungPlaylistSlashView.as_view(),
        name="rung-playlist-slash",
    ),
    path(
        "video/<int:video_id>/<str:resolution>/<str:segment>",
        views.SegmentView.as_view(),
        name="segment",
    ),
    path(
        "video/<int:video_id>/<str:resolution>/<str:segment>/",
        views.SegmentSlashView.as_view(),
        name="segment-slash",
    ),
]
