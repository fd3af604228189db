"""Views under /admin/video/video/ for staff with a Django session (wrapped by the admin site's
admin_view: staff only, CSRF on POST, never cached).

The preview serves a playable video's playlists (also while it is still encoded, when they grow)
to the staff member's session, found and signed by video.streaming.output as for a viewer: the
master playlist as published, and each rung playlist with its segment URIs signed for that staff
member. In local mode those are made absolute viewer-API segment URLs, which answer signed
requests without any credential (nginx, or video.streaming.signed); in s3 mode they are already
presigned URLs of the store (or its front). The viewer API itself is unchanged: it still needs a
viewer's JWT for playlists.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from video import layout
from video.catalogue.selectors import PlayableOutput, video_playable_output
from video.staff import selectors, services
from video.streaming import output

MAX_STATUS_IDS = 200


@require_GET
def video_status(request):
    """{"videos": [{id, status, status_label, progress, error, playable}]} for ?id=1&id=2…"""
    values = request.GET.getlist("id")[:MAX_STATUS_IDS]
    ids = [int(value) for value in values if value.isascii() and value.isdigit()]
    return JsonResponse({"videos": selectors.video_status_list(video_ids=ids)})


@require_POST
def video_transcode_again(request, video_id: int):
    if services.video_transcode_again(video_id=video_id):
        messages.success(request, "Queued for transcoding again; the status below updates by itself.")
    return HttpResponseRedirect(reverse("admin:video_video_change", args=[video_id]))


def _playable_or_404(video_id: int, rung: str | None = None) -> PlayableOutput:
    playable = video_playable_output(video_id=video_id)
    if playable is None or not playable.rungs:
        raise Http404("This video is not playable (yet).")
    if rung is not None and (not layout.is_rung_name(rung) or rung not in playable.rungs):
        raise Http404("This video has no such playable rung.")
    return playable


def _playlist(text: str) -> HttpResponse:
    response = HttpResponse(text, content_type=layout.PLAYLIST_CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def preview_master(request, video_id: int):
    playable = _playable_or_404(video_id)
    text = output.master_playlist(video_id=video_id, output=playable)
    if text is None:
        raise Http404("This video has no master playlist.")
    return _playlist(text)


@require_GET
def preview_rung(request, video_id: int, rung: str):
    playable = _playable_or_404(video_id, rung)
    signed = output.rung_playlist_signed(
        video_id=video_id, output=playable, rung=rung, user_id=request.user.pk
    )
    if signed is None:
        raise Http404("This rung has no playlist.")
    return _playlist("\n".join(_to_api(line, video_id, rung) for line in signed.splitlines()) + "\n")


def _to_api(line: str, video_id: int, rung: str) -> str:
    """A signed segment line relative to the playlist (local mode), made absolute: the viewer
    API's segment URL answers it. Presigned store URLs (s3 mode) are already absolute."""
    name, _, query = line.partition("?")
    if line.startswith("#") or not layout.is_segment_name(name):
        return line
    return f"{reverse('video:segment', args=[video_id, rung, name])}?{query}"
