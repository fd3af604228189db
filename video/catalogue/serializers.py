"""Shapes of the catalogue and watch-progress answers.

URLs in answers are absolute. They are built from two strings computed once per request
(``origin`` and the ``/api/video/`` prefix, see ``url_context``) so serialising a page of
videos needs no URL resolving and no query beyond the one that loaded the rows.
"""

import functools
import math

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.pagination import OptionalLimitOffsetPagination
from video import layout
from video.models import Video


@functools.cache
def _video_prefix() -> str:
    return reverse("video:video-list")


def url_context(request) -> dict:
    return {
        "request": request,
        "origin": f"{request.scheme}://{request.get_host()}",
        "video_prefix": _video_prefix(),
    }


def _absolute(context: dict, path: str) -> str:
    return context["origin"] + path


def thumbnail_url(video: Video, context: dict) -> str | None:
    # Always the API's public thumbnail URL (MEDIA_URL): with MEDIA_STORAGE=s3 it redirects to a
    # signed URL of the private bucket, which the storage's own url() would name directly.
    if not video.thumbnail.name:
        return None
    return _absolute(context, settings.MEDIA_URL + video.thumbnail.name)


def master_playlist_url(video: Video, context: dict) -> str:
    return _absolute(context, f"{context['video_prefix']}{video.pk}/{layout.MASTER_PLAYLIST}")


def rung_playlist_urls(video: Video, context: dict) -> dict[str, str]:
    base = f"{context['video_prefix']}{video.pk}/"
    return {rung: _absolute(context, base + layout.rung_playlist_uri(rung)) for rung in _rungs(video)}


def _rungs(video: Video) -> list[str]:
    return [rung for rung in video.rungs or [] if isinstance(rung, str)]


class VideoListQuerySerializer(serializers.Serializer):
    category = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    search = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    # The pagination class's own bound, refused with a 400 instead of DRF's silent clamp.
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=OptionalLimitOffsetPagination.max_limit
    )
    offset = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)


class VideoListItemSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", read_only=True)
    thumbnail_url = serializers.SerializerMethodField(
        help_text="Absolute URL loadable without credentials; null when the video has no thumbnail."
    )
    rungs = serializers.SerializerMethodField(help_text='Rungs produced, e.g. ["360p", "480p"].')
    master_playlist_url = serializers.SerializerMethodField()
    ready = serializers.SerializerMethodField(
        help_text="False while the film is still being transcoded: it plays, and more rungs may join."
    )

    class Meta:
        model = Video
        fields = [
            "id",
            "created_at",
            "title",
            "description",
            "thumbnail_url",
            "category",
            "duration",
            "rungs",
            "master_playlist_url",
            "ready",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, video) -> str | None:
        return thumbnail_url(video, self.context)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_rungs(self, video) -> list[str]:
        return _rungs(video)

    @extend_schema_field(serializers.URLField())
    def get_master_playlist_url(self, video) -> str:
        return master_playlist_url(video, self.context)

    def get_ready(self, video) -> bool:
        return video.status == Video.Status.READY


class VideoPageSerializer(serializers.Serializer):
    """The page DRF's LimitOffsetPagination answers when `limit` or `offset` is given (for the schema)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = VideoListItemSerializer(many=True)


class VideoDetailSerializer(VideoListItemSerializer):
    playlists = serializers.SerializerMethodField(help_text="Media playlist URL of each rung.")

    class Meta(VideoListItemSerializer.Meta):
        fields = [*VideoListItemSerializer.Meta.fields, "playlists"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_playlists(self, video) -> dict[str, str]:
        return rung_playlist_urls(video, self.context)


class WatchProgressInputSerializer(serializers.Serializer):
    position_seconds = serializers.FloatField(min_value=0, max_value=7 * 24 * 3600)

    def validate_position_seconds(self, value):
        if not math.isfinite(value):
            raise serializers.ValidationError("Give a finite number of seconds.")
        return value


class WatchProgressSerializer(serializers.Serializer):
    video_id = serializers.IntegerField(read_only=True)
    position_seconds = serializers.FloatField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ContinueWatchingItemSerializer(serializers.Serializer):
    """A video the user has started and not finished, with where they stopped."""

    id = serializers.IntegerField(source="video.id", read_only=True)
    created_at = serializers.DateTimeField(source="video.created_at", read_only=True)
    title = serializers.CharField(source="video.title", read_only=True)
    description = serializers.CharField(source="video.description", read_only=True)
    thumbnail_url = serializers.SerializerMethodField()
    category = serializers.CharField(source="video.category.name", read_only=True)
    duration = serializers.FloatField(source="video.duration", read_only=True, allow_null=True)
    master_playlist_url = serializers.SerializerMethodField()
    position_seconds = serializers.FloatField(read_only=True)
    progress_updated_at = serializers.DateTimeField(source="updated_at", read_only=True)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, progress) -> str | None:
        return thumbnail_url(progress.video, self.context)

    @extend_schema_field(serializers.URLField())
    def get_master_playlist_url(self, progress) -> str:
        return master_playlist_url(progress.video, self.context)
