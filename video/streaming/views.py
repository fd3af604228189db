"""HLS endpoints under /api/video/<id>/ for viewers with credentials, and public thumbnails.

The rung playlist is the one place a viewer is authorised for a rung: its segment URIs come back
signed (video.streaming.signing), and signed segments are answered by nginx or by the small WSGI
handler in video.streaming.signed, never here. A segment asked for without a signature but with
credentials (an API client fetching segments itself) is still answered here.

With MEDIA_STORAGE=s3 the playlists come from the bucket and the segment URIs are signed URLs of
the store (video.streaming.bucket); a segment or thumbnail asked for here is redirected to one.
Playlists are found and signed by video.streaming.output, which the staff preview uses too.
"""

import hashlib
import mimetypes

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import parse_etags
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.views import APIView

from core.exceptions import ErrorSerializer
from video import layout, media_store
from video.catalogue.cache import catalogue_cached
from video.catalogue.selectors import PlayableOutput, video_playable_output
from video.catalogue.views import NOT_FOUND, UNAUTHORIZED, VIDEO_NOT_FOUND
from video.streaming import bucket, files, output

THUMBNAIL_CACHE_CONTROL = "public, max-age=604800"
FILE_NOT_FOUND = "This file does not exist."
SEGMENT_NOT_FOUND = "This segment does not exist."
GROWING_CACHE_CONTROL = "private, no-cache"


def private_cache_control() -> str:
    return f"private, max-age={settings.HLS_CACHE_MAX_AGE}"


def growing_or_not(playlist: str) -> str:
    """A rung playlist that may still grow is reloaded by the player every few seconds: never from
    a cache. A complete one is cached as usual."""
    return private_cache_control() if layout.playlist_is_complete(playlist) else GROWING_CACHE_CONTROL


class JsonErrorsOnly(BaseContentNegotiation):
    """Streaming answers are files; the renderer is only used for JSON errors, whatever Accept says."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _file_operation(operation_id: str, summary: str, media_type: str, description: str):
    """The OpenAPI description of an endpoint that answers a file (Range and conditional requests)."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[
            OpenApiParameter("Range", str, OpenApiParameter.HEADER, description="A single `bytes=` range."),
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER),
            OpenApiParameter("If-Modified-Since", str, OpenApiParameter.HEADER),
        ],
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description),
            (206, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The requested byte range."),
            304: OpenApiResponse(description="Not modified (If-None-Match / If-Modified-Since)."),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            412: OpenApiResponse(ErrorSerializer, description="If-Match / If-Unmodified-Since failed."),
            416: OpenApiResponse(ErrorSerializer, description="Range not satisfiable."),
        },
    )


class HlsView(APIView):
    content_negotiation_class = JsonErrorsOnly

    @staticmethod
    def rung_or_404(video_id: int, rung: str | None = None) -> PlayableOutput:
        """The video's published rungs, whether it is ready and the version of its HLS set (empty
        in local mode); 404 unless it is playable and has the rung."""
        # Asked on every playlist: kept for the current catalogue version (video.catalogue.cache).
        playable = catalogue_cached(
            "output", lambda: video_playable_output(video_id=video_id), video_id=video_id
        )
        if playable is None:
            raise NotFound(VIDEO_NOT_FOUND)
        if rung is not None and (not layout.is_rung_name(rung) or rung not in playable.rungs):
            raise NotFound("This video has no such rung.")
        return playable

    @staticmethod
    def open_or_404(video_id: int, *names: str) -> files.ServableFile:
        try:
            return files.locate(layout.hls_root(), str(video_id), *names)
        except files.FileNotServable as exc:
            raise NotFound(FILE_NOT_FOUND) from exc

    def send(self, request, video_id: int, *names: str, content_type: str, cache_control: str = ""):
        cache_control = cache_control or private_cache_control()
        with self.open_or_404(video_id, *names) as file:
            return files.file_response(request, file, content_type=content_type, cache_control=cache_control)

    @staticmethod
    def playlist_response(request, text: str | None, *, cache_control: str = "") -> HttpResponse:
        """A playlist built in memory, with an ETag of its bytes (304 when the client has them)."""
        if text is None:
            raise NotFound(FILE_NOT_FOUND)
        body = text.encode()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(body, content_type=layout.PLAYLIST_CONTENT_TYPE)
        response["ETag"], response["Cache-Control"] = etag, cache_control or private_cache_control()
        return response


class MasterPlaylistView(HlsView):
    @_file_operation(
        "video_master_playlist",
        "HLS master playlist listing every rung",
        layout.PLAYLIST_CONTENT_TYPE,
        "The master playlist.",
    )
    def get(self, request, video_id: int):
        playable = self.rung_or_404(video_id)
        # Rungs join the master playlist while the video is prepared: not cached until it is ready.
        cache_control = "" if playable.ready else GROWING_CACHE_CONTROL
        if media_store.enabled():
            text = output.master_playlist(video_id=video_id, output=playable)
            return self.playlist_response(request, text, cache_control=cache_control)
        # A file on disk: sent with its ETag, Last-Modified and Range handling (files.plan_answer).
        return self.send(
            request,
            video_id,
            layout.MASTER_PLAYLIST,
            content_type=layout.PLAYLIST_CONTENT_TYPE,
            cache_control=cache_control,
        )


class RungPlaylistView(HlsView):
    @extend_schema(
        operation_id="video_rung_playlist",
        summary="HLS media playlist of one rung (e.g. 480p), its segment URIs signed for this viewer",
        responses={
            (200, layout.PLAYLIST_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.STR, description="The playlist."
            ),
            304: OpenApiResponse(description="Not modified (If-None-Match)."),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
        },
    )
    def get(self, request, video_id: int, rung: str):
        playable = self.rung_or_404(video_id, rung)
        text = output.rung_playlist_signed(
            video_id=video_id, output=playable, rung=rung, user_id=request.user.pk
        )
        return self.playlist_response(request, text, cache_control=growing_or_not(text or ""))


class SegmentView(HlsView):
    @_file_operation(
        "video_segment",
        "One MPEG-TS segment listed by the rung's playlist (with credentials; signed URLs need none)",
        layout.SEGMENT_CONTENT_TYPE,
        "The segment.",
    )
    def get(self, request, video_id: int, rung: str, segment: str):
        version = self.rung_or_404(video_id, rung).version
        if not layout.is_segment_name(segment):
            raise NotFound(SEGMENT_NOT_FOUND)
        if media_store.enabled():
            url = bucket.segment_url(video_id=video_id, version=version, rung=rung, segment=segment)
            return HttpResponseRedirect(url)
        with self.open_or_404(video_id, rung, layout.RUNG_PLAYLIST) as playlist:
            lines = playlist.read_all().decode("utf-8", errors="replace").splitlines()
        if segment not in {line.strip() for line in lines}:
            raise NotFound(SEGMENT_NOT_FOUND)
        return self.send(request, video_id, rung, segment, content_type=layout.SEGMENT_CONTENT_TYPE)


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


@require_safe
def thumbnail(request, name: str):
    """A thumbnail image, without credentials; anything but a plain image file below
    MEDIA_ROOT/thumbnails answers 404."""
    parts = name.split("/")
    if not all(layout.THUMBNAIL_COMPONENT.fullmatch(part) for part in parts):
        raise Http404("No such thumbnail.")
    content_type, encoding = mimetypes.guess_type(parts[-1])
    if encoding or not content_type or not content_type.startswith("image/") or "svg" in content_type:
        raise Http404("No such thumbnail.")
    if media_store.enabled():
        response = HttpResponseRedirect(bucket.thumbnail_url("/".join(["thumbnails", *parts])))
        response["Cache-Control"] = f"public, max-age={settings.HLS_SIGNED_URL_WINDOW_SECONDS}"
        return response
    try:
        with files.locate(layout.thumbnails_root(), *parts) as file:
            return files.file_response(
                request, file, content_type=content_type, cache_control=THUMBNAIL_CACHE_CONTROL
            )
    except files.FileNotServable as exc:
        raise Http404("No such thumbnail.") from exc
