"""Catalogue and watch-progress endpoints under /api/video/.

Every endpoint authenticates with the default class (Bearer header, then the `access_token`
cookie) and answers errors in the API's JSON shape (core.exceptions).
"""

from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ErrorSerializer
from core.pagination import OptionalLimitOffsetPagination
from video.catalogue import selectors
from video.catalogue.cache import catalogue_cached
from video.catalogue.serializers import (
    ContinueWatchingItemSerializer,
    VideoDetailSerializer,
    VideoListItemSerializer,
    VideoListQuerySerializer,
    VideoPageSerializer,
    WatchProgressInputSerializer,
    WatchProgressSerializer,
    url_context,
)
from video.catalogue.services import watch_progress_set

UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="Missing, invalid or expired credentials.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such ready video (or file).")
BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="Invalid parameters.")
VIDEO_NOT_FOUND = "This video does not exist or is not ready yet."
NO_FILTER = {"category": "", "search": ""}


def ready_video_or_404(video_id: int):
    video = selectors.video_get_playable(video_id=video_id)
    if video is None:
        raise NotFound(VIDEO_NOT_FOUND)
    return video


class VideoListView(APIView):
    pagination_class = OptionalLimitOffsetPagination

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
                description="Array of videos; a page object when `limit` or `offset` is given.",
            ),
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
        },
    )
    def get(self, request):
        params = NO_FILTER
        if request.query_params:  # the SPA's call, on every page load, has none
            query = VideoListQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            params = query.validated_data
        context = url_context(request)
        body = catalogue_cached(
            "list",
            lambda: JSONRenderer().render(self._answer(request, params, context)),
            origin=context["origin"],
            query=sorted(request.query_params.lists()),
        )
        return HttpResponse(body, content_type="application/json")

    def _answer(self, request, params: dict, context: dict):
        videos = selectors.video_list_playable(category=params["category"], search=params["search"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(videos, request, view=self)
        if page is None:
            return VideoListItemSerializer(videos, many=True, context=context).data
        return paginator.get_paginated_response(
            VideoListItemSerializer(page, many=True, context=context).data
        ).data


class VideoDetailView(APIView):
    @extend_schema(
        operation_id="video_retrieve",
        summary="One ready video with its rungs, duration and playlist URLs",
        responses={200: VideoDetailSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request, video_id: int):
        return Response(
            VideoDetailSerializer(ready_video_or_404(video_id), context=url_context(request)).data
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="video_progress_retrieve",
        summary="Where the current user stopped in this video",
        responses={200: WatchProgressSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
    put=extend_schema(
        operation_id="video_progress_update",
        summary="Store where the current user stopped in this video",
        request=WatchProgressInputSerializer,
        responses={200: WatchProgressSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
)
class WatchProgressView(APIView):
    def get(self, request, video_id: int):
        progress = selectors.watch_progress_get(user=request.user, video_id=video_id)
        if progress is None:
            raise NotFound("No progress is stored for this video.")
        return Response(WatchProgressSerializer(progress).data)

    def put(self, request, video_id: int):
        payload = WatchProgressInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        progress = watch_progress_set(
            user=request.user,
            video=ready_video_or_404(video_id),
            position_seconds=payload.validated_data["position_seconds"],
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
