"""Catalogue, streaming and watch-progress endpoints under /api/video/, and public thumbnails.

Every endpoint under /api/ authenticates with the default class (Bearer header, then the
``access_token`` cookie) and answers errors in the API's JSON shape. The streaming views answer
files (or an X-Accel-Redirect) directly, so DRF's renderers are used for errors only.
"""

import mimetypes
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from video import selectors, streaming
from video.cache import catalogue_cached
from video.progress import watch_progress_set
from video.serializers import (
    ContinueWatchingItemSerializer,
    ErrorSerializer,
    VideoDetailSerializer,
    VideoListItemSerializer,
    VideoListQuerySerializer,
    VideoPageSerializer,
    WatchProgressInputSerializer,
    WatchProgressSerializer,
    url_context,
)

UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="Missing, invalid or expired credentials.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such ready video (or file).")
BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="Invalid parameters.")

THUMBNAIL_CACHE_CONTROL = "public, max-age=604800"
DEFAULT_PAGE_SIZE = 20
VIDEO_NOT_FOUND = "This video does not exist or is not ready yet."
FILE_NOT_FOUND = "This file does not exist."
SEGMENT_NOT_FOUND = "This segment does not exist."


# --- Catalogue --------------------------------------------------------------------------------


class VideoListView(APIView):
    @extend_schema(
        operation_id="video_list",
        summary="Ready videos, newest first",
        description=(
            "A plain JSON array. With `limit` and/or `offset` (default limit 20) the answer is a page "
            "`{count, next, previous, results}` instead. Answers are cached until the catalogue changes."
        ),
        parameters=[VideoListQuerySerializer],
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="VideoListOrPage",
                    serializers=[VideoListItemSerializer(many=True), VideoPageSerializer],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="Array of videos; a page object when `limit` is given.",
            ),
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
        },
    )
    def get(self, request):
        if request.query_params:
            query = VideoListQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            params = query.validated_data
        else:  # the SPA's call, on every page load
            params = {"category": "", "search": ""}
        context = url_context(request)
        body = catalogue_cached(
            "list",
            lambda: JSONRenderer().render(self._answer(params, context)),
            origin=context["origin"],
            **params,
        )
        return HttpResponse(body, content_type="application/json")

    @staticmethod
    def _answer(params: dict, context: dict):
        videos = selectors.video_list_ready(category=params["category"], search=params["search"])
        if "limit" not in params and "offset" not in params:
            return VideoListItemSerializer(videos, many=True, context=context).data
        limit, offset = params.get("limit", DEFAULT_PAGE_SIZE), params.get("offset", 0)
        count = videos.count()
        page = videos[offset : offset + limit]

        def link(page_offset: int) -> str:
            query = {"category": params["category"], "search": params["search"]}
            query = {name: value for name, value in query.items() if value}
            query |= {"limit": limit, "offset": page_offset}
            return f"{context['origin']}{context['video_prefix']}?{urlencode(query)}"

        return {
            "count": count,
            "next": link(offset + limit) if offset + limit < count else None,
            "previous": link(max(offset - limit, 0)) if offset > 0 else None,
            "results": VideoListItemSerializer(page, many=True, context=context).data,
        }


class VideoDetailView(APIView):
    @extend_schema(
        operation_id="video_retrieve",
        summary="One ready video with its rungs, duration and playlist URLs",
        responses={200: VideoDetailSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request, video_id: int):
        video = selectors.video_get_ready(video_id=video_id)
        if video is None:
            raise NotFound(VIDEO_NOT_FOUND)
        return Response(VideoDetailSerializer(video, context=url_context(request)).data)


# --- Watch progress ---------------------------------------------------------------------------


class WatchProgressView(APIView):
    @extend_schema(
        operation_id="video_progress_retrieve",
        summary="Where the current user stopped in this video",
        responses={200: WatchProgressSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request, video_id: int):
        progress = selectors.watch_progress_get(user=request.user, video_id=video_id)
        if progress is None:
            raise NotFound("No progress is stored for this video.")
        return Response(WatchProgressSerializer(progress).data)

    @extend_schema(
        operation_id="video_progress_update",
        summary="Store where the current user stopped in this video",
        request=WatchProgressInputSerializer,
        responses={200: WatchProgressSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def put(self, request, video_id: int):
        payload = WatchProgressInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        video = selectors.video_get_ready(video_id=video_id)
        if video is None:
            raise NotFound(VIDEO_NOT_FOUND)
        progress = watch_progress_set(
            user=request.user, video=video, position_seconds=payload.validated_data["position_seconds"]
        )
        return Response(WatchProgressSerializer(progress).data)


class ContinueWatchingView(APIView):
    @extend_schema(
        operation_id="video_continue_watching",
        summary="The current user's unfinished videos, most recently watched first",
        responses={200: ContinueWatchingItemSerializer(many=True), 401: UNAUTHORIZED},
    )
    def get(self, request):
        progress = selectors.watch_progress_list_unfinished(user=request.user)
        return Response(
            ContinueWatchingItemSerializer(progress, many=True, context=url_context(request)).data
        )


# --- Streaming --------------------------------------------------------------------------------


class JsonErrorsOnly(BaseContentNegotiation):
    """Streaming answers are files; the renderer is only used for JSON errors, whatever Accept says."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _binary(media_type: str, description: str) -> dict:
    return {
        (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description),
        (206, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The requested byte range."),
        304: OpenApiResponse(description="Not modified (If-None-Match / If-Modified-Since)."),
        401: UNAUTHORIZED,
        404: NOT_FOUND,
        416: OpenApiResponse(ErrorSerializer, description="Range not satisfiable."),
        412: OpenApiResponse(ErrorSerializer, description="If-Match / If-Unmodified-Since failed."),
    }


RANGE_HEADERS = [
    OpenApiParameter("Range", str, OpenApiParameter.HEADER, description="A single `bytes=` range."),
    OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER),
    OpenApiParameter("If-Modified-Since", str, OpenApiParameter.HEADER),
]


class HlsFileView(APIView):
    content_negotiation_class = JsonErrorsOnly

    @staticmethod
    def renditions_or_404(video_id: int) -> list[str]:
        # Asked on every segment request: kept per process for the current catalogue version.
        renditions = catalogue_cached(
            "renditions",
            lambda: selectors.video_ready_renditions(video_id=video_id),
            shared=False,
            video_id=video_id,
        )
        if renditions is None:
            raise NotFound(VIDEO_NOT_FOUND)
        return renditions

    @staticmethod
    def rung_or_404(rung: str, renditions: list[str]) -> str:
        if not streaming.is_valid_rung(rung) or rung not in renditions:
            raise NotFound("This video has no such resolution.")
        return rung

    @staticmethod
    def locate_or_404(video_id: int, *names: str) -> streaming.ServableFile:
        try:
            return streaming.locate(streaming.hls_root(), str(video_id), *names)
        except streaming.FileNotServable as exc:
            raise NotFound(FILE_NOT_FOUND) from exc

    def serve(self, request, file: streaming.ServableFile, content_type: str):
        try:
            return streaming.hls_file_response(request._request, file, content_type=content_type)
        except streaming.FileNotServable as exc:
            raise NotFound(FILE_NOT_FOUND) from exc


class MasterPlaylistView(HlsFileView):
    @extend_schema(
        operation_id="video_master_playlist",
        summary="HLS master playlist listing every rung",
        parameters=RANGE_HEADERS,
        responses=_binary(streaming.PLAYLIST_CONTENT_TYPE, "The master playlist."),
    )
    def get(self, request, video_id: int):
        self.renditions_or_404(video_id)
        with self.locate_or_404(video_id, streaming.MASTER_PLAYLIST) as file:
            return self.serve(request, file, streaming.PLAYLIST_CONTENT_TYPE)


class RungPlaylistView(HlsFileView):
    @extend_schema(
        operation_id="video_rung_playlist",
        summary="HLS media playlist of one rung (e.g. 480p)",
        parameters=RANGE_HEADERS,
        responses=_binary(streaming.PLAYLIST_CONTENT_TYPE, "The rung's media playlist."),
    )
    def get(self, request, video_id: int, resolution: str):
        rung = self.rung_or_404(resolution, self.renditions_or_404(video_id))
        with self.locate_or_404(video_id, rung, streaming.RUNG_PLAYLIST) as file:
            return self.serve(request, file, streaming.PLAYLIST_CONTENT_TYPE)


class SegmentView(HlsFileView):
    @extend_schema(
        operation_id="video_segment",
        summary="One MPEG-TS segment listed by the rung's playlist",
        parameters=RANGE_HEADERS,
        responses=_binary(streaming.SEGMENT_CONTENT_TYPE, "The segment."),
    )
    def get(self, request, video_id: int, resolution: str, segment: str):
        rung = self.rung_or_404(resolution, self.renditions_or_404(video_id))
        if not streaming.is_valid_segment(segment):
            raise NotFound(SEGMENT_NOT_FOUND)
        try:
            file = streaming.locate_listed_segment(streaming.hls_root(), str(video_id), rung, segment)
        except streaming.SegmentNotListed as exc:
            raise NotFound(SEGMENT_NOT_FOUND) from exc
        except streaming.FileNotServable as exc:
            raise NotFound(FILE_NOT_FOUND) from exc
        with file:
            return self.serve(request, file, streaming.SEGMENT_CONTENT_TYPE)


# The same views answer URLs with a trailing slash; distinct classes keep operation ids unique.
@extend_schema_view(get=extend_schema(operation_id="video_master_playlist_slash"))
class MasterPlaylistSlashView(MasterPlaylistView):
    pass


@extend_schema_view(get=extend_schema(operation_id="video_rung_playlist_slash"))
class RungPlaylistSlashView(RungPlaylistView):
    pass


@extend_schema_view(get=extend_schema(operation_id="video_segment_slash"))
class SegmentSlashView(SegmentView):
    pass


# --- Thumbnails (public, outside /api/) -------------------------------------------------------


@require_safe
def thumbnail(request, name: str):
    """A thumbnail image, without credentials; anything but a plain image file below
    MEDIA_ROOT/thumbnails answers 404."""
    parts = name.split("/")
    if not all(streaming.THUMBNAIL_COMPONENT.fullmatch(part) for part in parts):
        raise Http404("No such thumbnail.")
    content_type, encoding = mimetypes.guess_type(parts[-1])
    if encoding or not content_type or not content_type.startswith("image/") or "svg" in content_type:
        raise Http404("No such thumbnail.")
    try:
        with streaming.locate(streaming.thumbnails_root(), *parts) as file:
            return streaming.file_response(
                request, file, content_type=content_type, cache_control=THUMBNAIL_CACHE_CONTROL
            )
    except streaming.FileNotServable as exc:
        raise Http404("No such thumbnail.") from exc
